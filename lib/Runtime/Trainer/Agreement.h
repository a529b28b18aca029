//===- Agreement.h - Ranks agree on what they run before step 1 -*- C++ -*-===//
//
// Under mpirun every rank must run the same model, the same executable, the
// same training flags and the same data; otherwise a run hangs (different
// --steps), fails mid-step (different models: MPI_ERR_TRUNCATE) or trains
// silently on a mix. checkAgreement compares, before any work:
//
//   model        the full model description text (model_info), so that two
//                models with the same parameter shapes (another head count)
//                differ
//   executable   hash64 of /proc/self/exe (Fingerprint.h): a fused and an
//                unfused build of one model differ here
//   flag.NAME    every flag except the per-rank ones: --threads (a rank's
//                cores) and --log (only rank 0 logs), and --help/--version
//                (which exit before)
//   data, val    the shards of --data and --val: base names and sizes
//
// Protocol (world communicator): an allgather of a fixed header (a format
// word, the item count and a hash of the item names), then an allgather of
// one 64-bit digest per item; for the items whose digests differ, an
// allgather of each rank's value text. Every rank then throws the same
// RuntimeError (exit code 2) naming each differing item, the ranks that
// differ and their values (for the model, the first description line that
// differs; for data, the shards added, removed or changed). Without MPI, or
// in a world of one, it does nothing.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_LIB_RUNTIME_AGREEMENT_H
#define LMC_LIB_RUNTIME_AGREEMENT_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lmcrt {

struct Config;
struct ModelInfo;

/// One item the ranks compare: a name ("model", "flag.steps", ...), the
/// digest compared, and the text shown when it differs.
struct AgreementItem {
  std::string name;
  uint64_t digest = 0;
  std::string value;
};

/// The items of this rank, in a fixed order.
std::vector<AgreementItem> agreementItems(const Config &config,
                                          const ModelInfo &model);

/// The flags that every rank must share, as (flag, value) pairs.
std::vector<std::pair<std::string, std::string>>
agreedFlags(const Config &config);

/// The message for item `name` whose values on the ranks are `values`
/// (indexed by rank) and differ.
std::string describeDisagreement(const std::string &name,
                                 const std::vector<std::string> &values);

/// Collective over the world: throws RuntimeError(2) on every rank when the
/// ranks' items differ. Returns the seconds it took.
double checkAgreement(const Config &config, const ModelInfo &model);

} // namespace lmcrt

#endif // LMC_LIB_RUNTIME_AGREEMENT_H
