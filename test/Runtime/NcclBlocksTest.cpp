//===- NcclBlocksTest.cpp - The NCCL collectives' block packing ------------===//
//
// NCCL's all-gather and reduce-scatter exchange P blocks one after the other
// in memory. The GPU runtime (Cuda/Nccl.cpp, prepareBlocks) reaches that
// layout from a gather or scatter along any dimension through the view
// blocksAlong (Comm/CollectiveShapes.h) and queued 2-D copies (planCopies,
// Cuda/StridedCopy.h): the reduce-scatter's input packed before the call,
// the all-gather's output unpacked after it. These tests run those copies
// with memcpy, on the CPU, along dimensions 1 and 2 (a sequence-parallel
// [B, T, C] activation is split along 1) for groups of 2 and 4 ranks (tp, dp
// and the world of a 2 x 2 mesh), and check every element against the
// layout computed from indices; and that the [P, S] buffer of a bucket
// (lmc-bucket-collectives) goes to NCCL as it is, with no copy. Part of
// lmcrt-unittests (test/Runtime/runtime-unit.test).
//
//===----------------------------------------------------------------------===//

#include "Comm/CollectiveShapes.h"
#include "Cuda/StridedCopy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

using namespace lmcrt;
using namespace lmcrt::cuda;

namespace {

using View = MemrefView<float>;

/// Runs `copies` with memcpy, as cuMemcpy2DAsync would.
void run(const std::vector<Copy2D> &copies) {
  for (const Copy2D &c : copies)
    for (size_t r = 0; r < c.height; ++r)
      std::memcpy(c.dst + r * c.dstPitch, c.src + r * c.srcPitch, c.widthBytes);
}

int64_t product(const std::vector<int64_t> &sizes) {
  int64_t n = 1;
  for (int64_t s : sizes)
    n *= s;
  return n;
}

/// Row-major strides of `sizes`, the innermost rows padded by `pad`.
std::vector<int64_t> strides(const std::vector<int64_t> &sizes, int64_t pad) {
  std::vector<int64_t> result(sizes.size());
  int64_t stride = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    result[d] = stride;
    stride *= sizes[d] + (d + 1 == sizes.size() ? pad : 0);
  }
  return result;
}

/// Calls f(index) for every index of `sizes`, row-major.
template <typename F> void forEach(const std::vector<int64_t> &sizes, F f) {
  std::vector<int64_t> index(sizes.size(), 0);
  for (int64_t n = product(sizes); n > 0; --n) {
    f(index);
    for (size_t d = sizes.size(); d-- > 0;) {
      if (++index[d] < sizes[d])
        break;
      index[d] = 0;
    }
  }
}

float &at(float *data, const std::vector<int64_t> &strides,
          const std::vector<int64_t> &index) {
  int64_t position = 0;
  for (size_t d = 0; d < index.size(); ++d)
    position += index[d] * strides[d];
  return data[position];
}

/// Where element `index` of the big tensor (split along `dim` into
/// `ranks` blocks) sits in NCCL's buffer: block r = index[dim] / block, then
/// the row-major position in the block.
int64_t ncclPosition(std::vector<int64_t> index, std::vector<int64_t> sizes,
                     int64_t dim, int64_t ranks) {
  int64_t block = sizes[dim] / ranks;
  int64_t r = index[dim] / block;
  index[dim] %= block;
  sizes[dim] = block;
  int64_t linear = 0;
  for (size_t d = 0; d < sizes.size(); ++d)
    linear = linear * sizes[d] + index[d];
  return r * product(sizes) + linear;
}

TEST(NcclBlocks, ReduceScatterInputPackedAlongDims1And2) {
  for (int64_t ranks : {2, 4})
    for (int64_t dim : {1, 2})
      for (int64_t pad : {0, 3}) {
        std::vector<int64_t> sizes = {3, 2 * ranks, 5};
        if (dim == 2)
          sizes = {3, 5, 2 * ranks};
        std::vector<int64_t> st = strides(sizes, pad);
        std::vector<float> storage(sizes[0] * st[0], -1.0f);
        View in(storage.data(), sizes, st);
        forEach(sizes, [&](const std::vector<int64_t> &i) {
          at(storage.data(), st, i) = static_cast<float>(
              (i[0] * sizes[1] + i[1]) * sizes[2] + i[2]);
        });
        EXPECT_FALSE(blocksAreConsecutive(in, dim));
        std::vector<float> send(product(sizes), -1.0f);
        View blocks = blocksAlong(in, dim, ranks);
        std::vector<Copy2D> copies;
        ASSERT_TRUE(planCopies(blocks, View::packed(send.data(), blocks.sizes),
                               1000, copies));
        run(copies);
        int64_t wrong = 0;
        forEach(sizes, [&](const std::vector<int64_t> &i) {
          wrong += send[ncclPosition(i, sizes, dim, ranks)] !=
                   at(storage.data(), st, i);
        });
        EXPECT_EQ(wrong, 0) << ranks << " ranks, dim " << dim << ", pad "
                            << pad;
      }
}

TEST(NcclBlocks, AllGatherOutputUnpackedAlongDims1And2) {
  for (int64_t ranks : {2, 4})
    for (int64_t dim : {1, 2})
      for (int64_t pad : {0, 3}) {
        std::vector<int64_t> sizes = {2, 3 * ranks, 4};
        if (dim == 2)
          sizes = {2, 4, 3 * ranks};
        std::vector<float> received(product(sizes));
        std::iota(received.begin(), received.end(), 0.0f);
        std::vector<int64_t> st = strides(sizes, pad);
        std::vector<float> storage(sizes[0] * st[0], -1.0f);
        View out(storage.data(), sizes, st);
        View blocks = blocksAlong(out, dim, ranks);
        std::vector<Copy2D> copies;
        ASSERT_TRUE(planCopies(View::packed(received.data(), blocks.sizes),
                               blocks, 1000, copies));
        run(copies);
        int64_t wrong = 0;
        forEach(sizes, [&](const std::vector<int64_t> &i) {
          wrong += at(storage.data(), st, i) !=
                   received[ncclPosition(i, sizes, dim, ranks)];
        });
        EXPECT_EQ(wrong, 0) << ranks << " ranks, dim " << dim << ", pad "
                            << pad;
        // Padding untouched.
        int64_t written = 0;
        for (float v : storage)
          written += v != -1.0f;
        EXPECT_EQ(written, product(sizes));
      }
}

TEST(NcclBlocks, BucketBuffersGoAsTheyAre) {
  // A bucket's [P, S] reduce-scatter input and all-gather output, and its
  // [1, S] pieces: NCCL's layout already, so prepareBlocks sends and
  // receives them in place.
  std::vector<float> buffer(4 * 22);
  for (int64_t ranks : {2, 4}) {
    View whole = View::packed(buffer.data(), {ranks, 22});
    View piece = View::packed(buffer.data(), {1, 22});
    EXPECT_TRUE(blocksAreConsecutive(whole, 0));
    EXPECT_TRUE(piece.isContiguous());
    EXPECT_EQ(blockShapeError(whole, piece, 0, static_cast<int>(ranks),
                              /*gather=*/false),
              "");
    EXPECT_EQ(blockShapeError(piece, whole, 0, static_cast<int>(ranks),
                              /*gather=*/true),
              "");
  }
}

} // namespace
