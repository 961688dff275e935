// GPU side of the engine (label gpu; skipped without a device): the fused sampling kernel against
// the CPU sampler row for row, and the engine on the GPU backend (built-in model, bf16 on the
// device) producing outputs the structure accepts, reproducibly.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "cuda/sampling/sample.h"
#include "decoder/sampler.h"
#include "tests/decoder/engine_test_util.h"

namespace sieve {
namespace {

bool HaveDevice() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

#define SKIP_WITHOUT_GPU() \
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device"

struct Case {
  int32_t vocab;       // logits per row (model vocab)
  int32_t mask_words;  // mask coverage: ids >= mask_words * 32 are padding
  int32_t rows;
};

TEST(SampleKernel, PicksExactlyWhatTheCpuSamplerPicks) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(123);
  int64_t compared = 0, top_p_rows = 0, top_p_mismatch = 0;
  for (const Case c : {Case{33, 1, 7}, Case{1000, 30, 64}, Case{102400, 3126, 16},
                       Case{129280, 4040, 8}, Case{5, 1, 3}}) {
    std::vector<float> logits(static_cast<size_t>(c.rows) * c.vocab);
    std::normal_distribution<float> d(0.0f, 2.0f);
    for (float& x : logits) x = d(rng);
    for (int i = 0; i < c.rows; ++i)
      logits[static_cast<size_t>(i) * c.vocab + (i % c.vocab)] = -INFINITY;
    std::vector<uint32_t> masks(static_cast<size_t>(c.rows) * c.mask_words);
    for (int r = 0; r < c.rows; ++r) {
      const int density = r % 4;  // all, ~half, ~1/32, a single id
      for (int w = 0; w < c.mask_words; ++w) {
        uint32_t m = density == 0 ? ~0u : density == 1 ? rng() : (rng() % 32 == 0 ? rng() : 0u);
        masks[static_cast<size_t>(r) * c.mask_words + w] = density == 3 ? 0u : m;
      }
      if (density == 3) {
        const int id = static_cast<int>(rng() % std::min(c.vocab, c.mask_words * 32));
        masks[static_cast<size_t>(r) * c.mask_words + (id >> 5)] = 1u << (id & 31);
      }
    }
    const float temps[] = {0.0f, 0.7f, 1.0f, 2.0f};
    const int32_t topks[] = {0, 1, 5, 50};
    const float topps[] = {1.0f, 0.9f, 0.5f};
    for (float t : temps) {
      for (int32_t k : topks) {
        for (float p : topps) {
          std::vector<cuda::SampleRowParams> params(c.rows);
          for (int r = 0; r < c.rows; ++r) {
            params[r] = {t,
                         k,
                         p,
                         c.rows - 1 - r,
                         1000u + static_cast<uint64_t>(r) * 7919u,
                         static_cast<uint64_t>(r) * 3u};
          }
          float* d_logits = nullptr;
          uint32_t* d_masks = nullptr;
          cuda::SampleRowParams* d_params = nullptr;
          int32_t* d_out = nullptr;
          ASSERT_EQ(cudaMalloc(&d_logits, logits.size() * sizeof(float)), cudaSuccess);
          ASSERT_EQ(cudaMalloc(&d_masks, masks.size() * sizeof(uint32_t)), cudaSuccess);
          ASSERT_EQ(cudaMalloc(&d_params, params.size() * sizeof(params[0])), cudaSuccess);
          ASSERT_EQ(cudaMalloc(&d_out, c.rows * sizeof(int32_t)), cudaSuccess);
          cudaMemcpy(d_logits, logits.data(), logits.size() * sizeof(float),
                     cudaMemcpyHostToDevice);
          cudaMemcpy(d_params, params.data(), params.size() * sizeof(params[0]),
                     cudaMemcpyHostToDevice);
          // Row r samples logits row rows-1-r with mask row r.
          cudaMemcpy(d_masks, masks.data(), masks.size() * sizeof(uint32_t),
                     cudaMemcpyHostToDevice);
          cuda::SampleParams sp{d_logits, c.vocab,      c.vocab,  c.rows,
                                d_masks,  c.mask_words, d_params, d_out};
          ASSERT_EQ(cuda::LaunchSample(sp, nullptr), cudaSuccess);
          std::vector<int32_t> got(c.rows);
          ASSERT_EQ(cudaMemcpy(got.data(), d_out, c.rows * sizeof(int32_t), cudaMemcpyDeviceToHost),
                    cudaSuccess);
          cudaFree(d_logits);
          cudaFree(d_masks);
          cudaFree(d_params);
          cudaFree(d_out);
          for (int r = 0; r < c.rows; ++r) {
            SamplingParams sp_cpu{t, k, p, params[r].seed};
            const int32_t want =
                SampleToken(logits.data() + static_cast<size_t>(params[r].logits_row) * c.vocab,
                            c.vocab, masks.data() + static_cast<size_t>(r) * c.mask_words,
                            c.mask_words, sp_cpu, params[r].index);
            ++compared;
            if (got[r] >= c.mask_words * 32) {
              FAIL() << "padding id " << got[r] << " sampled";
            }
            if (p < 1.0f && t > 0.0f) {
              ++top_p_rows;
              if (got[r] != want) ++top_p_mismatch;  // only an exact mass tie may differ
              continue;
            }
            ASSERT_EQ(got[r], want)
                << "vocab " << c.vocab << " row " << r << " t " << t << " k " << k << " p " << p;
          }
        }
      }
    }
  }
  std::printf("%lld rows compared; top-p rows %lld, mismatches %lld\n",
              static_cast<long long>(compared), static_cast<long long>(top_p_rows),
              static_cast<long long>(top_p_mismatch));
  EXPECT_LE(top_p_mismatch * 200, top_p_rows) << "top-p disagrees beyond mass ties";
}

TEST(SampleKernel, RefusesBadShapes) {
  SKIP_WITHOUT_GPU();
  cuda::SampleParams p{};
  p.rows = 1;
  p.vocab = 10;
  p.mask_words = 1;
  EXPECT_EQ(cuda::LaunchSample(p, nullptr), cudaErrorInvalidValue);  // null pointers
  p.vocab = 0;
  EXPECT_EQ(cuda::LaunchSample(p, nullptr), cudaErrorInvalidValue);
}

std::shared_ptr<const EngineModel> BuiltinOnGpu() {
  static std::shared_ptr<const EngineModel> model = [] {
    EngineModelOptions o;
    o.device = EngineDevice::kGpu;
    auto m = EngineModel::Load(o);
    if (!m.ok())
      std::fprintf(stderr, "built-in model on the GPU: %s\n", m.status().ToString().c_str());
    return m.ok() ? *m : nullptr;
  }();
  return model;
}

TEST(GpuEngine, OutputsFollowTheSchemaAndRepeatPerSeed) {
  SKIP_WITHOUT_GPU();
  auto model = BuiltinOnGpu();
  ASSERT_NE(model, nullptr);
  ASSERT_EQ(model->device(), EngineDevice::kGpu);
  const int64_t tokenizer_size = model->tokenizer().vocabulary().size();
  int runs = 0, complete = 0;
  for (const char* name :
       {"openai_get_weather", "chess_move", "api_oauth_token", "color_palette"}) {
    Structure s;
    s.kind = StructureKind::kJsonSchema;
    s.text = testing::ReadText(std::string(SIEVE_SOURCE_DIR "/schemas/") + name + ".schema.json");
    s.json = Engine::DefaultJsonOptions();
    auto g = testing::CompileIndependently(s, *model);
    ASSERT_NE(g, nullptr);
    std::vector<std::vector<int32_t>> first;
    for (int round = 0; round < 2; ++round) {
      auto engine = testing::MakeEngine(model, 8);
      ASSERT_NE(engine, nullptr);
      std::vector<int64_t> ids;
      for (uint64_t seed = 0; seed < 8; ++seed) {
        GenerationRequest r;
        r.prompt = "JSON:";
        r.structure = s;
        r.sampling.temperature = 1.0f;
        r.sampling.seed = seed;
        r.max_tokens = 200;
        auto id = engine->Submit(r);
        ASSERT_TRUE(id.ok()) << id.status().ToString();
        ids.push_back(*id);
      }
      ASSERT_TRUE(engine->RunToCompletion().ok());
      auto results = engine->TakeFinished();
      ASSERT_EQ(results.size(), 8u);
      std::sort(results.begin(), results.end(),
                [](const GenerationResult& a, const GenerationResult& b) { return a.id < b.id; });
      for (size_t i = 0; i < results.size(); ++i) {
        const GenerationResult& r = results[i];
        ASSERT_NE(r.finish, FinishReason::kError) << r.error.ToString();
        for (int32_t t : r.tokens) ASSERT_LT(t, tokenizer_size);
        const int verdict = testing::GrammarVerdict(g, r.text);
        ASSERT_GE(verdict, 0) << name << ": " << r.text;
        if (r.complete) {
          ASSERT_EQ(verdict, 1) << name << ": " << r.text;
        }
        if (round == 0) {
          first.push_back(r.tokens);
          ++runs;
          complete += r.complete;
        } else {
          EXPECT_EQ(r.tokens, first[i]) << name << " seed " << i << ": not reproducible";
        }
      }
    }
  }
  std::printf("GPU engine: %d runs, %d complete\n", runs, complete);
  EXPECT_GT(complete, 0);
}

}  // namespace
}  // namespace sieve
