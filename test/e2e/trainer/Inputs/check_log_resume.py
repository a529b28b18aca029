"""Checks the JSONL log of a run that was killed and resumed.

    python3 check_log_resume.py BEFORE AFTER CKPT_DIR_FIRST_STEP

BEFORE is the log as the killed run left it, AFTER the log once the resumed
run ended, S the step of the checkpoint it resumed from. Checks that AFTER
starts with BEFORE's complete lines of steps <= S, then has one resume marker
at step S that counts the lines dropped, then the resumed run's lines; that
no training step is logged twice and the steps run 1, 2, ... without a gap;
that every line has a wall-clock time, never decreasing; and that the steps
the killed run logged after S have the same losses, bit for bit, in the
resumed run.
"""

import json
import sys


def main() -> int:
    before_path, after_path, s = sys.argv[1], sys.argv[2], int(sys.argv[3])
    before_text = open(before_path).read()
    complete = before_text.split("\n")[:-1]
    torn = 0 if before_text.endswith("\n") or not before_text else 1
    kept = [l for l in complete if json.loads(l)["step"] <= s]
    dropped = len(complete) - len(kept) + torn
    after = open(after_path).read().split("\n")
    assert after[-1] == "", "the log does not end with a newline"
    after = after[:-1]
    if after[:len(kept)] != kept:
        print("FAIL: the lines up to the checkpoint's step changed")
        return 1
    marker = json.loads(after[len(kept)])
    want = {"event": "resume", "step": s, "dropped": dropped,
            "checkpoint": f"ckpt_{s:08d}.safetensors"}
    if any(marker.get(k) != v for k, v in want.items()):
        print(f"FAIL: marker {marker}, expected {want}")
        return 1
    objs = [json.loads(l) for l in after]
    steps = [o["step"] for o in objs if "loss" in o]
    if steps != list(range(1, len(steps) + 1)):
        print(f"FAIL: training steps logged {steps}")
        return 1
    evals = [o["step"] for o in objs if "val_loss" in o]
    if len(evals) != len(set(evals)):
        print(f"FAIL: evaluations logged twice: {evals}")
        return 1
    times = [o["time"] for o in objs]
    if any(not isinstance(t, float) for t in times) or times != sorted(times):
        print("FAIL: times missing or decreasing")
        return 1
    old = {o["step"]: o["loss"] for o in map(json.loads, complete)
           if "loss" in o}
    new = {o["step"]: o["loss"] for o in objs if "loss" in o}
    redone = [k for k in old if k > s]
    if any(old[k] != new[k] for k in redone):
        print("FAIL: the resumed run's losses differ from the killed run's")
        return 1
    print(f"resumed at {s}: dropped {dropped} lines, {len(redone)} steps "
          f"redone with the same losses, {len(steps)} steps logged once each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
