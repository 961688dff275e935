// GPU-side model plumbing without the forward pass: the weight upload (every tensor of fp32, fp16
// and bf16 checkpoints arrives as the correctly rounded bf16 value, the router as exact fp32,
// experts stacked [E, 2I, H] / [E, H, I], gate|up fused; tiny chunks force many staging-buffer
// round trips; the progress callback counts every byte), the device-memory limit, the KV cache's
// capacity arithmetic, and GpuSession's input errors, which must leave the session usable.
// Label gpu; skipped without a device.
#include "decoder/gpu_weights.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "decoder/gpu_model.h"
#include "decoder/kv_cache.h"
#include "decoder/random_model.h"
#include "tests/decoder/gpu_test_util.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

using testing::HaveDevice;
using testing::ScopedTempDir;

// Writes `preset` with every tensor in `dtype` (fp16 goes through a rewrite of an fp32 model).
std::string WriteModel(const ScopedTempDir& dir, const std::string& preset, DType dtype) {
  auto config = PresetConfig(preset, 300);
  EXPECT_TRUE(config.ok());
  RandomModelOptions o;
  o.out_dir = dir.File(preset + "_f32");
  o.seed = 3;
  o.dtype = DType::kF32;
  EXPECT_TRUE(WriteRandomModel(*config, o).ok());
  if (dtype == DType::kF32) return o.out_dir;
  auto tensors = testing::ReadAllTensors(o.out_dir);
  EXPECT_TRUE(tensors.ok());
  for (auto& [name, t] : *tensors) t.dtype = dtype;
  const std::string out = dir.File(preset + "_" + DTypeName(dtype));
  EXPECT_TRUE(testing::WriteModelFolder(out, o.out_dir, *tensors).ok());
  return out;
}

std::vector<uint16_t> DownloadU16(const void* p, uint64_t n) {
  std::vector<uint16_t> h(n);
  EXPECT_EQ(cudaMemcpy(h.data(), p, n * 2, cudaMemcpyDeviceToHost), cudaSuccess);
  return h;
}

void CheckUpload(const std::string& folder, const std::string& preset) {
  SCOPED_TRACE(folder);
  auto weights = LoadModelWeights(folder);
  ASSERT_TRUE(weights.ok()) << weights.status().ToString();
  GpuUploadOptions o;
  o.chunk_bytes = 4096;  // hundreds of chunks through two staging buffers
  o.staging_buffers = 2;
  o.threads = 3;
  std::vector<GpuUploadProgress> seen;
  o.progress = [&](const GpuUploadProgress& p) { seen.push_back(p); };
  GpuUploadReport report;
  auto gpu = GpuWeights::Upload(*weights, o, &report);
  ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
  const GpuWeights& g = **gpu;
  EXPECT_EQ(report.device_bytes, g.device_bytes());
  ASSERT_GT(seen.size(), 10u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GE(seen[i].bytes_done, seen[i - 1].bytes_done);
  EXPECT_EQ(seen.back().bytes_done, report.device_bytes);
  EXPECT_EQ(seen.back().bytes_total, report.device_bytes);

  int checked = 0;
  for (const TensorSpec& spec : weights->specs()) {
    auto host = weights->ReadF32(spec.name);
    ASSERT_TRUE(host.ok());
    const GpuWeights::Placement p = g.Find(spec.name);
    ASSERT_NE(p.data, nullptr) << spec.name;
    ASSERT_EQ(p.numel, host->size()) << spec.name;
    if (p.element_bytes == 4) {
      std::vector<float> d(p.numel);
      ASSERT_EQ(cudaMemcpy(d.data(), p.data, p.numel * 4, cudaMemcpyDeviceToHost), cudaSuccess);
      EXPECT_EQ(std::memcmp(d.data(), host->data(), p.numel * 4), 0) << spec.name;
    } else {
      const std::vector<uint16_t> d = DownloadU16(p.data, p.numel);
      size_t bad = 0;
      for (size_t i = 0; i < d.size(); ++i) bad += d[i] != F32ToBf16((*host)[i]);
      EXPECT_EQ(bad, 0u) << spec.name << ": elements not equal to their bf16 rounding";
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(weights->specs().size()));

  // The regrouped layouts are where the kernels expect them.
  const ModelConfig& c = weights->config();
  const int64_t h = c.hidden_size, inter = c.moe_intermediate_size;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const GpuLayerWeights& L = g.layers()[l];
    const std::string p = LayerPrefix(l);
    if (!L.moe) {
      EXPECT_EQ(L.dense.gate_up, g.Find(p + "mlp.gate_proj.weight").data);
      EXPECT_EQ(L.dense.gate_up + c.intermediate_size * h, g.Find(p + "mlp.up_proj.weight").data);
      EXPECT_EQ(L.dense.down, g.Find(p + "mlp.down_proj.weight").data);
      continue;
    }
    EXPECT_EQ(static_cast<const void*>(L.router), g.Find(p + "mlp.gate.weight").data);
    for (int64_t e = 0; e < c.n_routed_experts; ++e) {
      const std::string ep = ExpertPrefix(l, e);
      EXPECT_EQ(L.experts_w13 + e * 2 * inter * h, g.Find(ep + "gate_proj.weight").data);
      EXPECT_EQ(L.experts_w13 + e * 2 * inter * h + inter * h, g.Find(ep + "up_proj.weight").data);
      EXPECT_EQ(L.experts_w2 + e * h * inter, g.Find(ep + "down_proj.weight").data);
    }
    EXPECT_EQ(L.shared.inter, c.n_shared_experts * inter);
    EXPECT_EQ(L.shared.gate_up + L.shared.inter * h,
              g.Find(p + "mlp.shared_experts.up_proj.weight").data);
  }
  EXPECT_EQ(g.lm_head(), g.Find("lm_head.weight").data);
  (void)preset;
}

TEST(GpuWeights, UploadGivesEveryTensorItsBf16RoundingWithExpertsStacked) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  ScopedTempDir dir;
  for (const char* preset : {"tiny", "tiny-qlora-grouped"}) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      CheckUpload(WriteModel(dir, preset, t), preset);
    }
  }
}

TEST(GpuWeights, RefusesAModelOverTheDeviceMemoryLimit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  ScopedTempDir dir;
  auto weights = LoadModelWeights(WriteModel(dir, "tiny", DType::kBF16));
  ASSERT_TRUE(weights.ok());
  GpuUploadOptions o;
  o.max_device_bytes = 4096;
  auto gpu = GpuWeights::Upload(*weights, o);
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.status().code(), StatusCode::kLimit);
  EXPECT_NE(gpu.status().message().find("configured limit of 4096"), std::string::npos)
      << gpu.status().message();
}

TEST(LatentKvCache, CapacityIsWholePagesOfTheLatentWidthOverAllLayers) {
  auto v2lite = PresetConfig("v2-lite");
  ASSERT_TRUE(v2lite.ok());
  EXPECT_EQ(LatentKvCache::BytesPerToken(*v2lite), 31104u);  // 27 x 576 x 2
  EXPECT_EQ(LatentKvCache::TokensThatFit(*v2lite, 31104ull * 64 * 10 + 5), 640);
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  auto tiny = PresetConfig("tiny");
  ASSERT_TRUE(tiny.ok());
  KvCacheOptions o;
  o.tokens = 100;
  auto cache = LatentKvCache::Create(*tiny, o);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  EXPECT_EQ((*cache)->table().capacity_tokens(), 128);
  EXPECT_EQ((*cache)->device_bytes(), 128u * LatentKvCache::BytesPerToken(*tiny));
  EXPECT_EQ((*cache)->layer(1), (*cache)->layer(0) + 128 * tiny->LatentCacheDim());
  EXPECT_NE((*cache)->CapacityReport().find("128 tokens (2 pages of 64)"), std::string::npos)
      << (*cache)->CapacityReport();
  KvCacheOptions budget;
  budget.max_bytes = LatentKvCache::BytesPerPage(*tiny) * 3 - 1;
  auto by_bytes = LatentKvCache::Create(*tiny, budget);
  ASSERT_TRUE(by_bytes.ok());
  EXPECT_EQ((*by_bytes)->table().num_pages(), 2);
}

TEST(GpuModel, RefusesConfigsOverTheKernelLimits) {
  auto c = PresetConfig("tiny");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(GpuModel::CheckSupported(*c).ok());
  c->kv_lora_rank = 1024;
  EXPECT_EQ(GpuModel::CheckSupported(*c).code(), StatusCode::kUnsupported);
  c->kv_lora_rank = 36;  // cache rows must be whole 16-byte chunks for the MLA kernel
  EXPECT_EQ(GpuModel::CheckSupported(*c).code(), StatusCode::kUnsupported);
}

// max_logits_rows bounds the logits a forward may return: an all-positions prefill longer than
// it is refused up front (nothing appended), shorter ones and last-row prefills run.
TEST(GpuSession, MaxLogitsRowsBoundsAllPositionsPrefills) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  ScopedTempDir dir;
  auto model = GpuModel::Load(WriteModel(dir, "tiny", DType::kBF16));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  GpuSessionOptions o;
  o.max_batch = 2;
  o.max_step_tokens = 32;
  o.max_seq_len = 100;
  o.max_logits_rows = -1;
  EXPECT_EQ(GpuSession::Create(*model, o).status().code(), StatusCode::kInvalidArgument);
  o.max_logits_rows = 4;
  auto session = GpuSession::Create(*model, o);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  GpuSession& s = **session;
  auto a = s.AddSequence();
  auto b = s.AddSequence();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(s.Prefill(*a, std::vector<int32_t>(10, 1), true).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(s.length(*a), 0);
  ASSERT_TRUE(s.Prefill(*a, std::vector<int32_t>(40, 2)).ok());  // chunks of 32 and 8
  EXPECT_EQ(s.logits_rows(), 1);
  ASSERT_TRUE(s.Prefill(*b, {3, 4, 5, 6}, true).ok());
  EXPECT_EQ(s.logits_rows(), 4);
  auto logits = s.LogitsToHost();
  ASSERT_TRUE(logits.ok());
  EXPECT_EQ(logits->size(), 4u * 300);
}

TEST(GpuSession, InputErrorsAreReportedAndLeaveTheSessionUsable) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  ScopedTempDir dir;
  auto model = GpuModel::Load(WriteModel(dir, "tiny", DType::kBF16));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  GpuSessionOptions o;
  o.max_batch = 2;
  o.max_step_tokens = 32;
  o.max_seq_len = 100;
  o.cache_tokens = 64;  // one page
  auto session = GpuSession::Create(*model, o);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  GpuSession& s = **session;
  auto a = s.AddSequence();
  auto b = s.AddSequence();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(s.Prefill(*a, std::vector<int32_t>(65, 1)).code(), StatusCode::kLimit);   // cache
  EXPECT_EQ(s.Prefill(*a, std::vector<int32_t>(101, 1)).code(), StatusCode::kLimit);  // length
  EXPECT_EQ(s.Prefill(*a, {1, 300}).code(), StatusCode::kInvalidArgument);  // vocab is 300
  EXPECT_EQ(s.Prefill(*a, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Prefill(*a + 9, {1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Prefill(*a, std::vector<int32_t>(40, 1), true).code(),
            StatusCode::kInvalidArgument);  // all positions need one step
  EXPECT_EQ(s.length(*a), 0);
  ASSERT_TRUE(s.Prefill(*a, std::vector<int32_t>(40, 2)).ok());                    // two chunks
  EXPECT_EQ(s.DecodeStep({*a, *a}, {1, 2}).code(), StatusCode::kInvalidArgument);  // repeated
  EXPECT_EQ(s.DecodeStep({*a, *b}, {1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.DecodeStep({*a, *b}, {1, 2}).code(), StatusCode::kLimit);  // b needs a 2nd page
  EXPECT_EQ(s.length(*a), 40);
  EXPECT_EQ(s.length(*b), 0);
  ASSERT_TRUE(s.DecodeStep({*a}, {3}).ok());
  EXPECT_EQ(s.length(*a), 41);
  EXPECT_TRUE(s.status().ok());
  auto best = s.ArgmaxToHost();
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->size(), 1u);
  ASSERT_TRUE(s.RemoveSequence(*a).ok());
  ASSERT_TRUE(s.Prefill(*b, {4, 5, 6}).ok());  // a's page came back
  EXPECT_TRUE(s.Synchronize().ok());
}

TEST(GpuSession, DefaultCacheHoldsMaxBatchSequencesOfMaxSeqLen) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  ScopedTempDir dir;
  auto model = GpuModel::Load(WriteModel(dir, "tiny", DType::kBF16));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  GpuSessionOptions o;
  o.max_batch = 4;
  o.max_seq_len = 65;  // two pages per sequence, though 4 x 65 tokens fit in five pages
  auto session = GpuSession::Create(*model, o);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ((*session)->cache().table().num_pages(), 8);
  std::vector<int64_t> seqs;
  for (int b = 0; b < 4; ++b) {
    auto seq = (*session)->AddSequence();
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE((*session)->Prefill(*seq, std::vector<int32_t>(65, 7)).ok()) << b;
  }
}

}  // namespace
}  // namespace sieve
