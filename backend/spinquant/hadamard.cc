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
#include "backend/cpu_kernels/parallel_for.h"
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

namespace {

// One row in place: the same butterflies as below, on memory that stays in
// cache (a 4096-wide float64 row is 32 KiB), where the tensor-op version
// streams the whole tensor through memory once per pass.
template <typename T>
void FastWalshHadamardRow(T* row, int64_t n) {
  for (int64_t h = 1; h < n; h *= 2) {
    for (int64_t block = 0; block < n; block += 2 * h) {
      T* a = row + block;
      T* b = a + h;
      for (int64_t j = 0; j < h; ++j) {
        const T x = a[j], y = b[j];
        a[j] = x + y;
        b[j] = x - y;
      }
    }
  }
}

}  // namespace

void FastWalshHadamardInPlace(double* row, int64_t n) { FastWalshHadamardRow(row, n); }

torch::Tensor FastWalshHadamard(const torch::Tensor& x) {
  const int64_t n = x.size(-1);
  const auto dtype = x.scalar_type();
  if (x.device().is_cpu() && (dtype == torch::kFloat64 || dtype == torch::kFloat32)) {
    torch::Tensor y = x.contiguous().clone();
    const int64_t rows = n == 0 ? 0 : y.numel() / n;
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        if (dtype == torch::kFloat64) {
          FastWalshHadamardRow(y.data_ptr<double>() + r * n, n);
        } else {
          FastWalshHadamardRow(y.data_ptr<float>() + r * n, n);
        }
      }
    });
    return y;
  }
  const auto batch = x.sizes().slice(0, x.dim() - 1);
  torch::Tensor y = x.reshape({-1, n});
  // Pass h pairs entries h apart within blocks of 2h: viewing the row as
  // [n / 2h, 2, h], the halves are a = [:, 0, :] and b = [:, 1, :]; after
  // the pass the block holds (a + b, a - b). Starting from h = 1 this builds
  // H_2n = [[H_n, H_n], [H_n, -H_n]], Sylvester's (natural) order.
  for (int64_t h = 1; h < n; h *= 2) {
    const torch::Tensor v = y.view({y.size(0), n / (2 * h), 2, h});
    const torch::Tensor a = v.select(2, 0), b = v.select(2, 1);
    y = torch::stack({a + b, a - b}, 2).reshape({-1, n});
  }
  std::vector<int64_t> shape(batch.begin(), batch.end());
  shape.push_back(n);
  return y.reshape(shape);
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
