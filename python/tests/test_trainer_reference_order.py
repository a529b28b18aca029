"""The shuffled data order of lmc.testing.trainer_reference (the Python
implementation of the trainer's order, lib/Runtime/Trainer/DataLoader.h)."""

import numpy as np

from lmc.testing.trainer_reference import (batches, permutation,
                                           shuffle_key, shuffled_batches)


def test_permutation_is_a_permutation_and_depends_on_the_key():
    for n in (0, 1, 2, 7, 100):
        assert sorted(permutation(n, shuffle_key(5, 0, 0))) == list(range(n))
    a = permutation(100, shuffle_key(5, 0, 0))
    assert a == permutation(100, shuffle_key(5, 0, 0))
    assert a != permutation(100, shuffle_key(6, 0, 0))
    assert a != permutation(100, shuffle_key(5, 1, 0))
    assert a != permutation(100, shuffle_key(5, 0, 1))
    # The values test/Runtime/RuntimeTest.cpp pins for the C++ loader.
    assert shuffle_key(1337, 2, 3) == 0x5C10B4AE7AAB3CBA
    assert permutation(8, shuffle_key(1337, 0, 0)) == [2, 3, 5, 0, 4, 6, 1, 7]


def test_each_epoch_visits_every_batch_once():
    tokens = np.arange(4 * 6 * 5 + 3, dtype=np.int64)  # 5 batches of 4x6
    n = 4 * 6
    steps = list(shuffled_batches(tokens, 4, 6, 15, seed=10))
    starts = [int(x[0, 0]) for x, _ in steps]
    for e in range(3):
        assert sorted(starts[5 * e:5 * e + 5]) == [0, 24, 48, 72, 96]
    assert starts[:5] != starts[5:10]
    for x, y in steps:
        assert (y.reshape(-1) == x.reshape(-1) + 1).all()
        assert int(x[0, 0]) % n == 0
    sequential = [int(x[0, 0]) for x, _ in batches(tokens, 4, 6, 5)]
    assert sequential == [0, 24, 48, 72, 96]
