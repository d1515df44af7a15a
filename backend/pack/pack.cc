#include "backend/pack/pack.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/base/torch_errors.h"

namespace wring {
namespace backend {
namespace pack {
namespace {

std::string ShapeText(torch::IntArrayRef shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

// Packs each row of a contiguous (rows, cols) int8 CPU matrix.
torch::Tensor PackRows(const torch::Tensor& matrix, int num_bits) {
  const int64_t rows = matrix.size(0);
  const int64_t cols = matrix.size(1);
  const int64_t words = PackedWordCount(cols, num_bits);
  torch::Tensor packed = torch::zeros({rows, words}, torch::kInt);
  const int8_t* in = matrix.data_ptr<int8_t>();
  // Accumulate in uint32 so shifts into the sign bit are well defined.
  uint32_t* out = reinterpret_cast<uint32_t*>(packed.data_ptr<int32_t>());
  const int32_t offset = 1 << (num_bits - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* row_in = in + r * cols;
    uint32_t* row_out = out + r * words;
    for (int64_t i = 0; i < cols; ++i) {
      const uint32_t u = static_cast<uint32_t>(row_in[i] + offset);
      const int64_t bit = i * num_bits;
      const int64_t word = bit / 32;
      const int shift = static_cast<int>(bit % 32);
      row_out[word] |= u << shift;
      if (shift + num_bits > 32) row_out[word + 1] |= u >> (32 - shift);
    }
  }
  return packed;
}

torch::Tensor UnpackRows(const torch::Tensor& packed, int num_bits, int64_t cols) {
  const int64_t rows = packed.size(0);
  const int64_t words = packed.size(1);
  torch::Tensor values = torch::empty({rows, cols}, torch::kChar);
  const uint32_t* in = reinterpret_cast<const uint32_t*>(packed.data_ptr<int32_t>());
  int8_t* out = values.data_ptr<int8_t>();
  const uint32_t mask = (1u << num_bits) - 1;
  const int32_t offset = 1 << (num_bits - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t* row_in = in + r * words;
    for (int64_t i = 0; i < cols; ++i) {
      const int64_t bit = i * num_bits;
      const int64_t word = bit / 32;
      const int shift = static_cast<int>(bit % 32);
      uint32_t u = row_in[word] >> shift;
      if (shift + num_bits > 32) u |= row_in[word + 1] << (32 - shift);
      out[r * cols + i] = static_cast<int8_t>(static_cast<int32_t>(u & mask) - offset);
    }
  }
  return values;
}

// str(dtype) in Python, for messages copied from compressed-tensors.
std::string PythonDtypeName(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kByte: return "torch.uint8";
    case torch::kChar: return "torch.int8";
    case torch::kShort: return "torch.int16";
    case torch::kInt: return "torch.int32";
    case torch::kLong: return "torch.int64";
    case torch::kHalf: return "torch.float16";
    case torch::kBFloat16: return "torch.bfloat16";
    case torch::kFloat: return "torch.float32";
    case torch::kDouble: return "torch.float64";
    case torch::kBool: return "torch.bool";
    default: return std::string("torch.") + c10::toString(dtype);
  }
}

absl::Status CheckBits(int num_bits, absl::string_view verb) {
  if (num_bits < 1 || num_bits > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat(verb, " is only supported for num_bits in [1, 8], got ", num_bits));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t PackedWordCount(int64_t count, int num_bits) { return (count * num_bits + 31) / 32; }

absl::StatusOr<torch::Tensor> PackToInt32(const torch::Tensor& values, int num_bits, PackedDim packed_dim) {
  if (!values.defined() || values.scalar_type() != torch::kChar) {
    return absl::InvalidArgumentError("Tensor must be quantized to torch.int8 before packing");
  }
  if (absl::Status status = CheckBits(num_bits, "Packing"); !status.ok()) return status;
  if (values.dim() != 2 && values.dim() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("PackToInt32: expected a 2-D or 3-D tensor, got shape ", ShapeText(values.sizes())));
  }
  return CatchTorchErrors("PackToInt32", [&]() -> absl::StatusOr<torch::Tensor> {
    const int64_t low = -(int64_t{1} << (num_bits - 1));
    const int64_t high = (int64_t{1} << (num_bits - 1)) - 1;
    if (values.numel() > 0) {
      const int64_t seen_min = values.min().item<int64_t>();
      const int64_t seen_max = values.max().item<int64_t>();
      // Out-of-range values would silently corrupt their neighbours' bits.
      if (seen_min < low || seen_max > high) {
        return absl::InvalidArgumentError(absl::StrCat("PackToInt32: values span [", seen_min, ", ", seen_max,
                                                       "] but ", num_bits, "-bit packing needs [", low, ", ",
                                                       high, "]; quantize with num_bits=", num_bits, " first"));
      }
    }
    torch::Tensor cpu = values.to(torch::kCPU);
    std::vector<torch::Tensor> slices;
    const bool stacked = cpu.dim() == 3;
    for (int64_t s = 0; s < (stacked ? cpu.size(0) : 1); ++s) {
      torch::Tensor matrix = stacked ? cpu[s] : cpu;
      if (packed_dim == PackedDim::kRows) matrix = matrix.t();
      torch::Tensor packed = PackRows(matrix.contiguous(), num_bits);
      if (packed_dim == PackedDim::kRows) packed = packed.t().contiguous();
      slices.push_back(packed);
    }
    torch::Tensor result = stacked ? torch::stack(slices) : slices[0];
    return result.to(values.device());
  });
}

absl::StatusOr<torch::Tensor> UnpackFromInt32(const torch::Tensor& packed, int num_bits,
                                              const std::vector<int64_t>& shape, PackedDim packed_dim) {
  if (!packed.defined() || packed.scalar_type() != torch::kInt) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Expected torch.int32 but got ",
        packed.defined() ? PythonDtypeName(packed.scalar_type()) : std::string("an undefined tensor"),
        ", Aborting unpack."));
  }
  if (absl::Status status = CheckBits(num_bits, "Unpacking"); !status.ok()) return status;
  const int64_t rank = static_cast<int64_t>(shape.size());
  if ((rank != 2 && rank != 3) || packed.dim() != rank) {
    return absl::InvalidArgumentError(absl::StrCat("UnpackFromInt32: packed tensor of shape ",
                                                   ShapeText(packed.sizes()), " cannot hold shape ",
                                                   ShapeText(shape), " (both must be 2-D or 3-D)"));
  }
  std::vector<int64_t> expected(shape.begin(), shape.end());
  const int64_t along = rank - 2 + (packed_dim == PackedDim::kColumns ? 1 : 0);
  expected[along] = PackedWordCount(shape[along], num_bits);
  if (packed.sizes().vec() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("UnpackFromInt32: packed tensor has shape ",
                                                   ShapeText(packed.sizes()), " but ", num_bits, "-bit values of shape ",
                                                   ShapeText(shape), " pack to ", ShapeText(expected)));
  }
  return CatchTorchErrors("UnpackFromInt32", [&]() -> absl::StatusOr<torch::Tensor> {
    torch::Tensor cpu = packed.to(torch::kCPU);
    std::vector<torch::Tensor> slices;
    const bool stacked = rank == 3;
    const int64_t count = shape[along];
    for (int64_t s = 0; s < (stacked ? cpu.size(0) : 1); ++s) {
      torch::Tensor matrix = stacked ? cpu[s] : cpu;
      if (packed_dim == PackedDim::kRows) matrix = matrix.t();
      torch::Tensor values = UnpackRows(matrix.contiguous(), num_bits, count);
      if (packed_dim == PackedDim::kRows) values = values.t().contiguous();
      slices.push_back(values);
    }
    torch::Tensor result = stacked ? torch::stack(slices) : slices[0];
    return result.to(packed.device());
  });
}

}  // namespace pack
}  // namespace backend
}  // namespace wring
