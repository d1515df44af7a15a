#include "backend/model/internal/gated_delta_rule.h"

#include <cmath>
#include <limits>
#include <vector>

namespace wring {
namespace backend {
namespace model {
namespace internal {
namespace {

// x * rsqrt(sum(x * x) + eps) over the last dim (FLA's l2norm).
torch::Tensor L2Norm(const torch::Tensor& x) { return x * torch::rsqrt((x * x).sum(-1, /*keepdim=*/true) + 1e-6); }

// [B, T, H, ...] -> [B, H, T, ...] float32, contiguous; the shared prologue.
struct Prepared {
  torch::Tensor query, key, value, beta, decay;
};

Prepared Prepare(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                 const torch::Tensor& decay, const torch::Tensor& beta) {
  auto f32 = [](const torch::Tensor& t) { return t.transpose(1, 2).to(torch::kFloat).contiguous(); };
  Prepared p{f32(query), f32(key), f32(value), f32(beta), f32(decay)};
  p.query = L2Norm(p.query);
  p.key = L2Norm(p.key);
  return p;
}

}  // namespace

torch::Tensor CausalConv1dSilu(const torch::Tensor& x, const torch::Tensor& weight) {
  const int64_t channels = x.size(1), length = x.size(2), kernel = weight.size(-1);
  const torch::Tensor out =
      torch::conv1d(x.to(torch::kFloat), weight.to(torch::kFloat), /*bias=*/{}, /*stride=*/1,
                    /*padding=*/kernel - 1, /*dilation=*/1, /*groups=*/channels)
          .slice(2, 0, length);
  // conv1d and silu each round to the dtype in transformers; rounding the
  // float32 conv once and then the float32 silu of that gives the same.
  const torch::Tensor rounded = out.to(x.scalar_type());
  return torch::silu(rounded.to(torch::kFloat)).to(x.scalar_type());
}

torch::Tensor ChunkGatedDeltaRule(const torch::Tensor& query_in, const torch::Tensor& key_in,
                                  const torch::Tensor& value_in, const torch::Tensor& decay_in,
                                  const torch::Tensor& beta_in, int64_t chunk_size) {
  const torch::Dtype dtype = query_in.scalar_type();
  const int64_t batch = key_in.size(0), length = key_in.size(1), key_dim = key_in.size(3);
  const int64_t heads = value_in.size(2), value_dim = value_in.size(3);
  Prepared p = Prepare(query_in, key_in, value_in, decay_in, beta_in);
  torch::Tensor query = p.query * static_cast<float>(std::pow(static_cast<double>(key_dim), -0.5));

  const int64_t pad = (chunk_size - length % chunk_size) % chunk_size;
  namespace F = torch::nn::functional;
  auto pad_time = [&](const torch::Tensor& t, bool per_feature) {
    return per_feature ? F::pad(t, F::PadFuncOptions({0, 0, 0, pad})) : F::pad(t, F::PadFuncOptions({0, pad}));
  };
  query = pad_time(query, true);
  torch::Tensor key = pad_time(p.key, true);
  const torch::Tensor value = pad_time(p.value, true);
  const torch::Tensor beta = pad_time(p.beta, false);
  torch::Tensor decay = pad_time(p.decay, false);
  const int64_t chunks = (length + pad) / chunk_size;

  const torch::Tensor v_beta = value * beta.unsqueeze(-1);
  torch::Tensor k_beta = key * beta.unsqueeze(-1);
  auto chunked = [&](const torch::Tensor& t) { return t.reshape({t.size(0), t.size(1), -1, chunk_size, t.size(-1)}); };
  query = chunked(query);
  key = chunked(key);
  k_beta = chunked(k_beta);
  const torch::Tensor v_beta_chunks = chunked(v_beta);
  decay = decay.reshape({decay.size(0), decay.size(1), -1, chunk_size});

  const torch::Tensor upper =
      torch::ones({chunk_size, chunk_size}, torch::TensorOptions().dtype(torch::kBool).device(query.device())).triu(1);
  const torch::Tensor cumulative = decay.cumsum(3);
  const torch::Tensor pairwise = (cumulative.unsqueeze(4) - cumulative.unsqueeze(3))
                                     .masked_fill(upper, -std::numeric_limits<float>::infinity())
                                     .exp();
  const torch::Tensor ut_system = torch::matmul(k_beta, key.transpose(-1, -2)) * pairwise;
  const torch::Tensor intra = torch::matmul(query, key.transpose(-1, -2)) * pairwise;
  const torch::Tensor decayed_k_beta = k_beta * cumulative.exp().unsqueeze(-1);
  const torch::Tensor new_values =
      torch::linalg_solve_triangular(ut_system, v_beta_chunks, /*upper=*/false, /*left=*/true, /*unitriangular=*/true);
  const torch::Tensor k_cumdecay = torch::linalg_solve_triangular(ut_system, decayed_k_beta, /*upper=*/false,
                                                                  /*left=*/true, /*unitriangular=*/true);

  torch::Tensor state = torch::zeros({batch, heads, key_dim, value_dim}, new_values.options());
  torch::Tensor output = torch::zeros_like(new_values);
  query = query * cumulative.exp().unsqueeze(-1);
  key = key * (cumulative.slice(-1, chunk_size - 1) - cumulative).exp().unsqueeze(-1);
  const torch::Tensor chunk_decay = cumulative.select(-1, chunk_size - 1).exp().unsqueeze(-1).unsqueeze(-1);
  for (int64_t i = 0; i < chunks; ++i) {
    const torch::Tensor v_new =
        new_values.select(2, i) - torch::matmul(k_cumdecay.select(2, i), state);
    const torch::Tensor inter = torch::matmul(query.select(2, i), state);
    output.select(2, i).copy_(inter + torch::matmul(intra.select(2, i), v_new));
    state = state * chunk_decay.select(2, i) + torch::matmul(key.select(2, i).transpose(-1, -2), v_new);
  }
  return output.reshape({batch, heads, -1, value_dim})
      .slice(2, 0, length)
      .transpose(1, 2)
      .to(dtype)
      .contiguous();
}

torch::Tensor RecurrentGatedDeltaRule(const torch::Tensor& query_in, const torch::Tensor& key_in,
                                      const torch::Tensor& value_in, const torch::Tensor& decay_in,
                                      const torch::Tensor& beta_in) {
  const torch::Dtype dtype = query_in.scalar_type();
  const int64_t batch = key_in.size(0), length = key_in.size(1), key_dim = key_in.size(3);
  const int64_t heads = value_in.size(2), value_dim = value_in.size(3);
  Prepared p = Prepare(query_in, key_in, value_in, decay_in, beta_in);
  const torch::Tensor query = p.query / static_cast<float>(std::sqrt(static_cast<double>(key_dim)));
  torch::Tensor state = torch::zeros({batch, heads, key_dim, value_dim}, p.value.options());
  torch::Tensor output = torch::zeros_like(p.value);
  for (int64_t t = 0; t < length; ++t) {
    const torch::Tensor q = query.select(2, t), k = p.key.select(2, t), v = p.value.select(2, t);
    state = state * p.decay.select(2, t).exp().unsqueeze(-1).unsqueeze(-1);
    const torch::Tensor remembered = (state * k.unsqueeze(-1)).sum(-2);
    const torch::Tensor delta = (v - remembered) * p.beta.select(2, t).unsqueeze(-1);
    state = state + k.unsqueeze(-1) * delta.unsqueeze(-2);
    output.select(2, t).copy_((state * q.unsqueeze(-1)).sum(-2));
  }
  return output.transpose(1, 2).contiguous().to(dtype);
}

}  // namespace internal
}  // namespace model
}  // namespace backend
}  // namespace wring
