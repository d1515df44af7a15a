#include "backend/distributed/c10d_collectives.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backend/base/torch_errors.h"
#include "backend/distributed/internal/tensor_buckets.h"

#ifdef WRING_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef WRING_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace wring {
namespace backend {
namespace distributed {
namespace {

using internal::PackBuckets;
using internal::TensorBucket;
using internal::UnpackBuckets;

std::chrono::milliseconds ToChrono(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

c10d::ReduceOp ToC10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:  // Gloo has no AVG: SUM, then divide
      return c10d::ReduceOp::SUM;
    case ReduceOp::kMin:
      return c10d::ReduceOp::MIN;
    case ReduceOp::kMax:
      return c10d::ReduceOp::MAX;
  }
  return c10d::ReduceOp::SUM;
}

std::string ErrorText(const std::exception& error) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&error)) {
    return backend::internal::FirstLine(c10_error->what_without_backtrace());
  }
  return backend::internal::FirstLine(error.what());
}

bool LooksLikeTimeout(const std::string& text) {
  return absl::StrContains(text, "imed out") || absl::StrContains(text, "imeout");
}

// One class for every backend: ProcessGroupGloo and ProcessGroupNCCL share
// the c10d call signatures (their common base differs between LibTorch 1.13
// and 2.x, the concrete classes do not).
template <typename Group>
class C10dCollectives final : public Collectives {
 public:
  C10dCollectives(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Group> group,
                  const WorkerEnvironment& env, const ConnectOptions& options,
                  const char* backend)
      : store_(std::move(store)),
        group_(std::move(group)),
        rank_(env.rank),
        world_size_(env.world_size),
        device_(options.device),
        timeout_(options.timeout),
        backend_(backend) {}

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }

  absl::Status AllReduce(absl::Span<const torch::Tensor> tensors, ReduceOp op,
                         absl::string_view what) override {
    const std::string call = absl::StrCat("all-reduce (", ReduceOpName(op), ")");
    if (absl::Status s = CheckAverageable(tensors, op, call, what); !s.ok()) return s;
    return Run(call, what, [&] {
      std::vector<TensorBucket> buckets = Pack(tensors);
      c10d::AllreduceOptions opts;
      opts.reduceOp = ToC10d(op);
      for (TensorBucket& bucket : buckets) {
        if (bucket.flat.numel() == 0) continue;
        std::vector<torch::Tensor> one{bucket.flat};
        group_->allreduce(one, opts)->wait();
        if (op == ReduceOp::kAvg) bucket.flat.div_(world_size_);
      }
      UnpackBuckets(buckets, tensors);
    });
  }

  absl::Status Reduce(absl::Span<const torch::Tensor> tensors, int root, ReduceOp op,
                      absl::string_view what) override {
    const std::string call = absl::StrCat("reduce (", ReduceOpName(op), ") to rank ", root);
    if (absl::Status s = CheckRoot(root, call, what); !s.ok()) return s;
    if (absl::Status s = CheckAverageable(tensors, op, call, what); !s.ok()) return s;
    return Run(call, what, [&] {
      std::vector<TensorBucket> buckets = Pack(tensors);
      c10d::ReduceOptions opts;
      opts.reduceOp = ToC10d(op);
      opts.rootRank = root;
      for (TensorBucket& bucket : buckets) {
        if (bucket.flat.numel() == 0) continue;
        std::vector<torch::Tensor> one{bucket.flat};
        group_->reduce(one, opts)->wait();
        if (op == ReduceOp::kAvg && rank_ == root) bucket.flat.div_(world_size_);
      }
      if (rank_ == root) UnpackBuckets(buckets, tensors);
    });
  }

  absl::Status Broadcast(absl::Span<const torch::Tensor> tensors, int root,
                         absl::string_view what) override {
    const std::string call = absl::StrCat("broadcast from rank ", root);
    if (absl::Status s = CheckRoot(root, call, what); !s.ok()) return s;
    return Run(call, what, [&] {
      std::vector<TensorBucket> buckets = Pack(tensors);
      c10d::BroadcastOptions opts;
      opts.rootRank = root;
      for (TensorBucket& bucket : buckets) {
        if (bucket.flat.numel() == 0) continue;
        std::vector<torch::Tensor> one{bucket.flat};
        group_->broadcast(one, opts)->wait();
      }
      if (rank_ != root) UnpackBuckets(buckets, tensors);
    });
  }

  absl::Status Barrier(absl::string_view what) override {
    return Run("barrier", what, [&] { group_->barrier(c10d::BarrierOptions())->wait(); });
  }

  absl::StatusOr<std::vector<std::string>> AllGather(absl::string_view bytes,
                                                     absl::string_view what) override {
    std::vector<std::string> result;
    absl::Status status = Run("all-gather", what, [&] {
      const auto on_device = torch::TensorOptions().device(device_);
      std::vector<torch::Tensor> size{
          torch::full({1}, static_cast<int64_t>(bytes.size()), on_device.dtype(torch::kInt64))};
      std::vector<std::vector<torch::Tensor>> sizes(1);
      for (int r = 0; r < world_size_; ++r) sizes[0].push_back(torch::empty_like(size[0]));
      group_->allgather(sizes, size)->wait();
      int64_t longest = 0;
      std::vector<int64_t> lengths;
      for (const torch::Tensor& s : sizes[0]) {
        lengths.push_back(s.item<int64_t>());
        longest = std::max(longest, lengths.back());
      }
      if (longest == 0) {
        result.assign(world_size_, std::string());
        return;
      }
      torch::Tensor mine = torch::zeros({longest}, torch::kUInt8);
      std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(mine.data_ptr<uint8_t>()));
      std::vector<torch::Tensor> input{mine.to(device_)};
      std::vector<std::vector<torch::Tensor>> outputs(1);
      for (int r = 0; r < world_size_; ++r) outputs[0].push_back(torch::empty_like(input[0]));
      group_->allgather(outputs, input)->wait();
      for (int r = 0; r < world_size_; ++r) {
        torch::Tensor host = outputs[0][r].to(torch::kCPU).contiguous();
        const char* data = reinterpret_cast<const char*>(host.data_ptr<uint8_t>());
        result.emplace_back(data, data + lengths[r]);
      }
    });
    if (!status.ok()) return status;
    return result;
  }

 private:
  std::vector<TensorBucket> Pack(absl::Span<const torch::Tensor> tensors) const {
    const bool gloo = absl::string_view(backend_) == "gloo";
    return PackBuckets(tensors, device_, [gloo](torch::ScalarType dtype) {
      if (dtype == torch::kBool) return torch::kUInt8;
      if (gloo && dtype == torch::kBFloat16) return torch::kFloat32;
      return dtype;
    });
  }

  absl::Status CheckRoot(int root, const std::string& call, absl::string_view what) const {
    if (root >= 0 && root < world_size_) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(call, " of ", what, ": there are only ",
                                                   world_size_, " ranks"));
  }

  absl::Status CheckAverageable(absl::Span<const torch::Tensor> tensors, ReduceOp op,
                                const std::string& call, absl::string_view what) const {
    if (op != ReduceOp::kAvg) return absl::OkStatus();
    for (const torch::Tensor& t : tensors) {
      if (!c10::isFloatingType(t.scalar_type())) {
        return absl::InvalidArgumentError(absl::StrCat(call, " of ", what, ": AVG needs a ",
                                                       "floating-point tensor, got ",
                                                       c10::toString(t.scalar_type())));
      }
    }
    return absl::OkStatus();
  }

  // Runs one collective; what c10d throws becomes a PeerFailure that says
  // which call failed, on what, and what probably happened.
  template <typename Body>
  absl::Status Run(const std::string& call, absl::string_view what, Body&& body) {
    try {
      body();
      return absl::OkStatus();
    } catch (const std::exception& error) {
      const std::string text = ErrorText(error);
      const std::string where =
          absl::StrCat("the ", call, " of ", what, " failed on the ", backend_, " group (rank ",
                       rank_, " of ", world_size_, "): ", text);
      if (LooksLikeTimeout(text)) {
        return PeerFailure(
            absl::StatusCode::kDeadlineExceeded,
            absl::StrCat(where, "; no answer from the other workers within ",
                         absl::FormatDuration(timeout_),
                         " (--dist-timeout): one of them is stuck or far slower than this one"));
      }
      return PeerFailure(absl::StatusCode::kAborted,
                         absl::StrCat(where, "; another worker stopped (its own message says "
                                             "why) or the connection between them broke"));
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;  // outlives the group that uses it
  c10::intrusive_ptr<Group> group_;
  int rank_;
  int world_size_;
  torch::Device device_;
  absl::Duration timeout_;
  const char* backend_;
};

absl::StatusOr<c10::intrusive_ptr<c10d::Store>> ConnectStore(const WorkerEnvironment& env,
                                                            absl::Duration timeout) {
  const bool host = env.rank == 0 && !env.agent_hosts_store;
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(env.master_port);
  opts.isServer = host;
  opts.numWorkers = env.world_size;
  opts.waitWorkers = false;  // the group's own rendezvous waits for everyone
  opts.timeout = ToChrono(timeout);
  try {
    return c10::intrusive_ptr<c10d::Store>(
        c10::make_intrusive<c10d::TCPStore>(env.master_addr, opts));
  } catch (const std::exception& error) {
    const std::string where = absl::StrCat(env.master_addr, ":", env.master_port);
    if (host) {
      return absl::UnavailableError(absl::StrCat(
          "rank 0 cannot host the rendezvous (TCPStore) on port ", env.master_port, ": ",
          ErrorText(error), "; choose a free MASTER_PORT"));
    }
    return PeerFailure(absl::StatusCode::kDeadlineExceeded,
                       absl::StrCat("cannot reach the rendezvous (TCPStore) at ", where,
                                    " within ", absl::FormatDuration(timeout), ": ",
                                    ErrorText(error),
                                    "; check MASTER_ADDR / MASTER_PORT and that rank 0 runs"));
  }
}

absl::Status RendezvousFailure(const WorkerEnvironment& env, const char* backend,
                               const std::exception& error) {
  return PeerFailure(absl::StatusCode::kAborted,
                     absl::StrCat("rank ", env.rank, " of ", env.world_size,
                                  " could not connect the ", backend,
                                  " process group: ", ErrorText(error),
                                  "; another worker stopped or cannot be reached"));
}

#ifdef WRING_WITH_GLOO
absl::StatusOr<std::unique_ptr<Collectives>> ConnectGloo(
    const WorkerEnvironment& env, const ConnectOptions& options,
    c10::intrusive_ptr<c10d::Store> store) {
  try {
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(ToChrono(options.timeout));
    const char* interfaces = std::getenv("GLOO_SOCKET_IFNAME");
    if (interfaces != nullptr && *interfaces != '\0') {
      for (absl::string_view name : absl::StrSplit(interfaces, ',', absl::SkipEmpty())) {
        gloo_options->devices.push_back(
            c10d::ProcessGroupGloo::createDeviceForInterface(std::string(name)));
      }
    } else if (IsLoopbackAddress(env.master_addr)) {
      // One host: stay on loopback, whatever the host name resolves to.
      gloo_options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size,
                                                             gloo_options);
    return std::unique_ptr<Collectives>(
        new C10dCollectives<c10d::ProcessGroupGloo>(store, group, env, options, "gloo"));
  } catch (const std::exception& error) {
    return RendezvousFailure(env, "gloo", error);
  }
}
#endif

#ifdef WRING_WITH_NCCL
absl::StatusOr<std::unique_ptr<Collectives>> ConnectNccl(
    const WorkerEnvironment& env, const ConnectOptions& options,
    c10::intrusive_ptr<c10d::Store> store) {
  // Without blocking wait, NCCL's wait() only orders streams and a hung
  // peer is noticed by a watchdog that aborts the process; with it, wait()
  // returns or throws within the timeout, like Gloo. A user's setting wins.
  setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  setenv("NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  try {
    auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
    nccl_options->timeout = ToChrono(options.timeout);
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size,
                                                             nccl_options);
    return std::unique_ptr<Collectives>(
        new C10dCollectives<c10d::ProcessGroupNCCL>(store, group, env, options, "nccl"));
  } catch (const std::exception& error) {
    return RendezvousFailure(env, "nccl", error);
  }
}
#endif

}  // namespace

absl::StatusOr<const char*> BackendFor(const torch::Device& device) {
  if (device.is_cpu()) {
#ifdef WRING_WITH_GLOO
    return "gloo";
#else
    return absl::FailedPreconditionError(
        "this build of wring has no Gloo (its headers were missing when it was built), so it "
        "cannot run distributed on the CPU; rebuild with Gloo's headers (Debian: libgloo-dev)");
#endif
  }
  if (device.is_cuda()) {
#ifdef WRING_WITH_NCCL
    return "nccl";
#else
    return absl::FailedPreconditionError(
        "this build of wring has no NCCL, so it cannot run distributed on CUDA; build it with "
        "CMake against a CUDA LibTorch and NCCL's headers (see README)");
#endif
  }
  return absl::InvalidArgumentError(
      absl::StrCat("no distributed backend for device ", device.str()));
}

absl::StatusOr<std::unique_ptr<Collectives>> ConnectCollectives(const WorkerEnvironment& env,
                                                                const ConnectOptions& options) {
  if (env.world_size == 1) return std::unique_ptr<Collectives>(new SingleProcessCollectives());
  absl::StatusOr<const char*> backend = BackendFor(options.device);
  if (!backend.ok()) return backend.status();
  absl::StatusOr<c10::intrusive_ptr<c10d::Store>> store = ConnectStore(env, options.timeout);
  if (!store.ok()) return store.status();
#ifdef WRING_WITH_GLOO
  if (options.device.is_cpu()) return ConnectGloo(env, options, *store);
#endif
#ifdef WRING_WITH_NCCL
  if (options.device.is_cuda()) return ConnectNccl(env, options, *store);
#endif
  return absl::InternalError("no distributed backend");
}

}  // namespace distributed
}  // namespace backend
}  // namespace wring
