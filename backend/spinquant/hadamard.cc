#include "backend/spinquant/hadamard.h"

#include <ATen/CPUGeneratorImpl.h>

#include <map>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace spinquant {
namespace {

struct EncodedMatrix {
  int64_t size;
  const char* bits_base64;
};

constexpr EncodedMatrix kKnownMatrices[] = {
#include "backend/spinquant/internal/known_hadamards_data.inc"
};

// The sizes in hadamards.safetensors: 1, 2, 4, 8, 12, 16, 20, ..., 256.
bool IsStoredSize(int64_t k) { return k == 1 || k == 2 || (k % 4 == 0 && k <= 256); }

torch::Tensor Sylvester(int64_t size, torch::ScalarType dtype) {
  torch::Tensor h = torch::ones({1, 1}, torch::TensorOptions().dtype(dtype));
  while (h.size(0) < size) {
    h = torch::cat({torch::cat({h, h}, 1), torch::cat({h, -h}, 1)}, 0);
  }
  return h;
}

absl::StatusOr<torch::Tensor> DecodeKnown(int64_t size) {
  for (const EncodedMatrix& m : kKnownMatrices) {
    if (m.size != size) continue;
    std::string bits;
    if (!absl::Base64Unescape(m.bits_base64, &bits) ||
        static_cast<int64_t>(bits.size()) * 8 < size * size) {
      return absl::InternalError(absl::StrCat("known Hadamard matrix ", size, " is corrupt"));
    }
    torch::Tensor out = torch::empty({size, size}, torch::kInt8);
    int8_t* data = out.data_ptr<int8_t>();
    for (int64_t i = 0; i < size * size; ++i) {
      const bool positive = (static_cast<unsigned char>(bits[i / 8]) >> (7 - i % 8)) & 1;
      data[i] = positive ? 1 : -1;
    }
    return out;
  }
  // Sizes whose stored matrix is Sylvester's are not in the table.
  return Sylvester(size, torch::kInt8);
}

}  // namespace

at::Generator NewDefaultGenerator() {
  return at::make_generator<at::CPUGeneratorImpl>(kDefaultGeneratorSeed);
}

bool IsPowerOfTwo(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

absl::StatusOr<torch::Tensor> DeterministicHadamard(int64_t size, torch::ScalarType dtype) {
  if (size <= 0) {
    return absl::InvalidArgumentError("Cannot construct deterministic hadamard of size <= 0");
  }
  if (!IsPowerOfTwo(size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Cannot construct deterministic hadamard of size != 2^n (size ", size,
        "); use transform_type: random-hadamard, or a power-of-two transform_block_size"));
  }
  return CatchTorchErrors("building a Hadamard matrix", [&]() -> absl::StatusOr<torch::Tensor> {
    return Sylvester(size, dtype);
  });
}

absl::StatusOr<torch::Tensor> KnownHadamardFor(int64_t size) {
  // _fetch_hadamard_divisor walks the stored sizes from the largest down.
  for (int64_t k = 256; k >= 1; --k) {
    if (!IsStoredSize(k) || size % k != 0 || !IsPowerOfTwo(size / k)) continue;
    return CatchTorchErrors("decoding a known Hadamard matrix", [&]() { return DecodeKnown(k); });
  }
  return absl::NotFoundError(absl::StrCat(
      "Cannot construct random hadamard matrix of size ", size,
      " (it must be 2^j times 1, 2, 4, 8 or a multiple of 4 up to 256)"));
}

absl::StatusOr<torch::Tensor> RandomHadamard(int64_t size, torch::ScalarType dtype,
                                             at::Generator& generator) {
  if (size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("Cannot construct random hadamard matrix of size ", size));
  }
  // Upstream draws Q before looking for the known matrix.
  auto q = CatchTorchErrors("drawing random signs", [&]() -> absl::StatusOr<torch::Tensor> {
    return torch::randint(0, 2, {size}, generator, torch::TensorOptions().dtype(dtype));
  });
  if (!q.ok()) return q.status();
  absl::StatusOr<torch::Tensor> known = KnownHadamardFor(size);
  if (!known.ok()) return known.status();
  return CatchTorchErrors("building a random Hadamard matrix", [&]() -> absl::StatusOr<torch::Tensor> {
    const torch::Tensor x = torch::diag(*q * 2 - 1);
    const int64_t k = known->size(0);
    // Each row of diag(Q) goes through log2(size / k) butterflies on adjacent
    // pairs, then the k x k matrix. All values are small integers, so the
    // result is exact in any floating dtype.
    torch::Tensor input = x.clone().view({-1, size, 1});
    while (input.size(1) > k) {
      const auto pairs = input.view({input.size(0), input.size(1) / 2, 2, input.size(2)});
      const torch::Tensor even = pairs.select(2, 0), odd = pairs.select(2, 1);
      input = torch::stack({even + odd, even - odd}, 2).view({input.size(0), input.size(1) / 2, -1});
    }
    const torch::Tensor had_k = known->to(dtype).view({1, k, k});
    return torch::matmul(had_k, input).view({size, size});
  });
}

absl::StatusOr<torch::Tensor> RandomMatrix(int64_t size, torch::ScalarType dtype,
                                           at::Generator& generator) {
  return CatchTorchErrors("drawing a random matrix", [&]() -> absl::StatusOr<torch::Tensor> {
    return torch::rand({size, size}, generator, torch::TensorOptions().dtype(dtype));
  });
}

}  // namespace spinquant
}  // namespace backend
}  // namespace wring
