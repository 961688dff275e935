// The GPU forward pass (decoder/gpu_model.h) against the CPU references, on tiny models: the two
// transformers fixtures (tests/data/deepseek_tiny: q_proj, greedy routing; deepseek_tiny_qlora:
// q_lora, group-limited routing, scaling 16) and WriteRandomModel's two presets. For each:
//   * prefill logits at every position of prompts of 1, 63, 64 and 65 tokens (page - 1, page,
//     page + 1 of the 64-token cache pages);
//   * chunked prefill (16-token steps) agrees with the references at the last position;
//   * 16 batched decode steps over four sequences of different lengths (teacher forced);
//   * 32 greedy tokens for the batch of four prompts, identical to the fp32 CPU reference; a
//     divergence passes only as a reported near tie (the CPU's margin between its token and the
//     GPU's is within 4x the RMS logit difference at that step);
//   * for the fixtures, the issue's bounds against transformers' expected.json: prefill logits
//     within 2e-2 at every position and 32 greedy tokens identical (free-running).
// For the fixtures (seeds chosen by scripts/gpu/make-deepseek-fixtures.py to be well-conditioned
// in bf16 on these very prompts) greedy divergences are failures, never excused near ties; the
// per-position CPU comparisons keep gpu_test_util.h's rules (a rare bf16-ill-conditioned position
// of a 63-token prompt is reported, not failed: the issue's bound is against transformers).
// Tolerances and the two references are explained in gpu_test_util.h. Label gpu; skipped
// without a device.
#include "decoder/gpu_model.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "decoder/cpu_model.h"
#include "decoder/random_model.h"
#include "tests/decoder/gpu_test_util.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

namespace fs = std::filesystem;
using testing::ComparePositions;
using testing::Comparison;
using testing::HaveDevice;
using testing::PrintComparison;
using testing::PromptTokens;
using testing::RmsDiff;

struct ModelCase {
  const char* name;
  const char* source;  // fixture folder under tests/data, or a WriteRandomModel preset
  bool fixture;
};

struct Models {
  std::shared_ptr<const CpuModel> fp32, emulated;
  std::shared_ptr<const GpuModel> gpu;
  std::string fixture_dir;  // empty for random models
};

class GpuModelTest : public ::testing::TestWithParam<ModelCase> {
 protected:
  static void SetUpTestSuite() { dir_ = new testing::ScopedTempDir(); }
  static void TearDownTestSuite() {
    models_.clear();
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
    const ModelCase& c = GetParam();
    auto it = models_.find(c.name);
    if (it == models_.end()) {
      Models m;
      std::string f32, bf16 = dir_->File(std::string(c.name) + "_bf16");
      if (c.fixture) {
        f32 = std::string(SIEVE_TEST_DATA_DIR) + "/" + c.source;
        Status s = testing::WriteBf16Copy(f32, bf16);
        ASSERT_TRUE(s.ok()) << s.ToString();
        m.fixture_dir = f32;
      } else {
        auto config = PresetConfig(c.source);
        ASSERT_TRUE(config.ok()) << config.status().ToString();
        f32 = dir_->File(std::string(c.name) + "_f32");
        for (auto [dir, dtype] : {std::pair{f32, DType::kF32}, std::pair{bf16, DType::kBF16}}) {
          RandomModelOptions o;
          o.out_dir = dir;
          o.seed = 7;
          o.dtype = dtype;
          auto r = WriteRandomModel(*config, o);
          ASSERT_TRUE(r.ok()) << r.status().ToString();
        }
      }
      auto fp32 = CpuModel::Load(f32);
      ASSERT_TRUE(fp32.ok()) << fp32.status().ToString();
      CpuModelOptions emulate;
      emulate.emulate_bf16_activations = true;
      auto emulated = CpuModel::Load(bf16, emulate);
      ASSERT_TRUE(emulated.ok()) << emulated.status().ToString();
      // The GPU reads the bf16 copy, so its fp32 router holds exactly the emulation's values
      // (conversion on upload from fp32 / fp16 files is checked in gpu_weights_test.cc).
      auto gpu = GpuModel::Load(bf16);
      ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
      m.fp32 = *fp32;
      m.emulated = *emulated;
      m.gpu = *gpu;
      it = models_.emplace(c.name, std::move(m)).first;
    }
    m_ = &it->second;
    vocab_ = m_->fp32->config().vocab_size;
  }

  std::unique_ptr<GpuSession> NewSession(int32_t max_step_tokens = 128) {
    GpuSessionOptions o;
    o.max_batch = 8;
    o.max_step_tokens = max_step_tokens;
    o.max_seq_len = 256;
    auto s = GpuSession::Create(m_->gpu, o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // The transformers fixtures are held to the issue's plain bounds: greedy tokens identical (no
  // near-tie excuses) here and in MatchesTransformersWithinTheIssueBounds.
  bool Strict() const { return GetParam().fixture; }

  // MoE layers whose shared experts a one-token step runs beside the routed ones (gpu_model.h
  // MoeSharedAside): every MoE layer with shared experts, where the routing is plain greedy over
  // at most 64 experts and the widths are multiples of 8 (all the models here but the grouped).
  int32_t AsideLayers() const {
    const ModelConfig& c = m_->fp32->config();
    const bool grouped = c.topk_method == TopkMethod::kGroupLimitedGreedy && c.n_group > 1;
    if (c.n_shared_experts == 0 || grouped || c.n_routed_experts > 64) return 0;
    int32_t n = 0;
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) n += c.IsMoeLayer(l);
    return n;
  }

  void CheckBatchedDecode(const std::vector<int>& lengths, int steps);

  std::string Name(const std::string& what) const {
    return std::string(GetParam().name) + " " + what;
  }

  static testing::ScopedTempDir* dir_;
  static std::map<std::string, Models> models_;
  const Models* m_ = nullptr;
  int64_t vocab_ = 0;
};

testing::ScopedTempDir* GpuModelTest::dir_ = nullptr;
std::map<std::string, Models> GpuModelTest::models_;

const std::vector<int> kLengths = {1, 63, 64, 65};

TEST_P(GpuModelTest, PrefillLogitsMatchTheCpuReferencesAtEveryPosition) {
  auto session = NewSession();
  ASSERT_NE(session, nullptr);
  Comparison all;
  for (int len : kLengths) {
    const std::vector<int32_t> tokens = PromptTokens(len, vocab_, len);
    auto seq = session->AddSequence();
    ASSERT_TRUE(seq.ok());
    Status s = session->Prefill(*seq, tokens, /*all_positions=*/true);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(session->logits_rows(), len);
    EXPECT_EQ(session->length(*seq), len);
    auto gpu = session->LogitsToHost();
    ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
    ASSERT_TRUE(session->RemoveSequence(*seq).ok());
    CpuSession e(m_->emulated), f(m_->fp32);
    auto le = e.Prefill(tokens, true, AttentionForm::kAbsorbed);
    auto lf = f.Prefill(tokens, true);
    ASSERT_TRUE(le.ok() && lf.ok());
    Comparison c;
    ComparePositions(Name("prefill " + std::to_string(len)), gpu->data(), le->data(), lf->data(),
                     e.last_token_routing_margins(), len, vocab_, &c);
    PrintComparison(Name("prefill " + std::to_string(len)), c);
    all.worst_emulated = std::max(all.worst_emulated, c.worst_emulated);
    all.worst_fp32 = std::max(all.worst_fp32, c.worst_fp32);
  }
  RecordProperty("worst_vs_emulated", std::to_string(all.worst_emulated));
  RecordProperty("worst_vs_fp32", std::to_string(all.worst_fp32));
}

TEST_P(GpuModelTest, ChunkedPrefillThenDecodeMatchesTheReferences) {
  auto session = NewSession(/*max_step_tokens=*/16);
  ASSERT_NE(session, nullptr);
  const std::vector<int32_t> tokens = PromptTokens(65, vocab_, 3);
  auto seq = session->AddSequence();
  ASSERT_TRUE(seq.ok());
  ASSERT_TRUE(session->Prefill(*seq, tokens).ok());  // 16 + 16 + 16 + 16 + 1 tokens
  EXPECT_EQ(session->logits_rows(), 1);
  auto prefill = session->LogitsToHost();
  ASSERT_TRUE(prefill.ok());
  EXPECT_EQ(session->shared_aside_layers(), AsideLayers()) << "the one-token prompt chunk";
  ASSERT_TRUE(session->DecodeStep({*seq}, {tokens[5]}).ok());
  EXPECT_EQ(session->shared_aside_layers(), AsideLayers()) << "the batch-1 decode step";
  auto step = session->LogitsToHost();
  ASSERT_TRUE(step.ok());
  CpuSession e(m_->emulated), f(m_->fp32);
  auto le = e.Prefill(tokens, false, AttentionForm::kAbsorbed);
  auto lf = f.Prefill(tokens);
  ASSERT_TRUE(le.ok() && lf.ok());
  // A flip anywhere in the prompt can move the last position: use the prompt's smallest margin.
  const std::vector<float>& pm = e.last_token_routing_margins();
  std::vector<float> margin = {*std::min_element(pm.begin(), pm.end())};
  Comparison c;
  ComparePositions(Name("chunked prefill 65 (last)"), prefill->data(), le->data(), lf->data(),
                   margin, 1, vocab_, &c);
  auto de = e.DecodeStep(tokens[5]);
  auto df = f.DecodeStep(tokens[5]);
  ASSERT_TRUE(de.ok() && df.ok());
  margin[0] = std::min(margin[0], e.last_token_routing_margins()[0]);
  ComparePositions(Name("decode after chunked prefill"), step->data(), de->data(), df->data(),
                   margin, 1, vocab_, &c);
  PrintComparison(Name("chunked prefill + decode"), c);
}

// Decode steps of one sequence per prompt length, all in every step, against the CPU references.
// Steps of 1-2 tokens run the shared experts beside the routed ones (AsideLayers), larger none.
void GpuModelTest::CheckBatchedDecode(const std::vector<int>& lengths, int steps) {
  auto session = NewSession();
  ASSERT_NE(session, nullptr);
  const size_t n = lengths.size();
  std::vector<int64_t> seqs;
  std::vector<CpuSession> emu, fp;
  for (size_t b = 0; b < n; ++b) {
    const std::vector<int32_t> prompt = PromptTokens(lengths[b], vocab_, 20 + b);
    auto seq = session->AddSequence();
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE(session->Prefill(*seq, prompt).ok());
    seqs.push_back(*seq);
    emu.emplace_back(m_->emulated);
    fp.emplace_back(m_->fp32);
    ASSERT_TRUE(emu.back().Prefill(prompt, false, AttentionForm::kAbsorbed).ok());
    ASSERT_TRUE(fp.back().Prefill(prompt).ok());
  }
  std::vector<std::vector<float>> gpu(n), ref_e(n), ref_f(n);
  std::vector<std::vector<float>> margins(n);
  for (int s = 0; s < steps; ++s) {
    std::vector<int32_t> feed;
    for (size_t b = 0; b < n; ++b) feed.push_back(PromptTokens(steps, vocab_, 40 + b)[s]);
    Status st = session->DecodeStep(seqs, feed);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(session->logits_rows(), static_cast<int32_t>(n));
    EXPECT_EQ(session->shared_aside_layers(), n <= 2 ? AsideLayers() : 0) << "batch " << n;
    auto logits = session->LogitsToHost();
    ASSERT_TRUE(logits.ok());
    for (size_t b = 0; b < n; ++b) {
      gpu[b].insert(gpu[b].end(), logits->begin() + b * vocab_, logits->begin() + (b + 1) * vocab_);
      auto le = emu[b].DecodeStep(feed[b]);
      auto lf = fp[b].DecodeStep(feed[b]);
      ASSERT_TRUE(le.ok() && lf.ok());
      ref_e[b].insert(ref_e[b].end(), le->begin(), le->end());
      ref_f[b].insert(ref_f[b].end(), lf->begin(), lf->end());
      margins[b].push_back(emu[b].last_token_routing_margins()[0]);
    }
  }
  for (size_t b = 0; b < n; ++b) {
    EXPECT_EQ(session->length(seqs[b]), lengths[b] + steps);
    const std::string what = Name("decode batch " + std::to_string(n) + " after " +
                                  std::to_string(lengths[b]));
    Comparison c;
    ComparePositions(what, gpu[b].data(), ref_e[b].data(), ref_f[b].data(), margins[b], steps,
                     vocab_, &c);
    PrintComparison(what, c);
  }
}

TEST_P(GpuModelTest, BatchedDecodeStepsMatchTheCpuReferences) { CheckBatchedDecode(kLengths, 16); }

TEST_P(GpuModelTest, TwoSequenceDecodeStepsMatchTheCpuReferences) {
  CheckBatchedDecode({1, 64}, 8);
}

// A decode step replayed from its captured CUDA graph computes exactly what eager launches do
// (same kernels, same order): bitwise-equal logits over several steps and three batch sizes. The
// batch-1 steps launch their kernel chain with programmatic dependent launch (PDL): eager and
// graph-replayed with PDL must both equal eager launches without it (mode 0), so a kernel that
// read its predecessor's output before waiting for it would show here.
TEST_P(GpuModelTest, DecodeGraphsMatchEagerLaunchesBitForBit) {
  constexpr int kModes = 3;  // eager without PDL, eager with PDL, graphs with PDL
  std::vector<std::vector<float>> logits[kModes];
  for (int mode = 0; mode < kModes; ++mode) {
    GpuSessionOptions o;
    o.max_batch = 4;
    o.max_step_tokens = 64;
    o.max_seq_len = 128;
    o.cuda_graphs = mode == 2;
    o.programmatic_launch = mode != 0;
    auto session = GpuSession::Create(m_->gpu, o);
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    std::vector<int64_t> seqs;
    for (int b = 0; b < 3; ++b) {
      auto seq = (*session)->AddSequence();
      ASSERT_TRUE(seq.ok());
      ASSERT_TRUE((*session)->Prefill(*seq, PromptTokens(5 + 30 * b, vocab_, 80 + b)).ok());
      seqs.push_back(*seq);
    }
    for (int step = 0; step < 6; ++step) {
      // Batch 3, 1 and 2 in turn (each its own graph).
      std::vector<int64_t> use = step % 3 == 0   ? seqs
                                 : step % 3 == 1 ? std::vector<int64_t>{seqs[1]}
                                                 : std::vector<int64_t>{seqs[0], seqs[2]};
      std::vector<int32_t> feed;
      for (size_t i = 0; i < use.size(); ++i) {
        feed.push_back(static_cast<int32_t>((step * 13 + i * 7 + 3) % vocab_));
      }
      ASSERT_TRUE((*session)->DecodeStep(use, feed).ok());
      auto l = (*session)->LogitsToHost();
      ASSERT_TRUE(l.ok()) << l.status().ToString();
      logits[mode].push_back(*l);
    }
  }
  for (int mode = 1; mode < kModes; ++mode) {
    ASSERT_EQ(logits[0].size(), logits[mode].size());
    for (size_t i = 0; i < logits[0].size(); ++i) {
      EXPECT_TRUE(logits[0][i] == logits[mode][i])
          << Name("mode " + std::to_string(mode) + " step " + std::to_string(i));
    }
  }
}

// Where GPU and CPU greedy tokens first differ, decides whether it is a near tie.
void CheckDivergence(const std::string& what, std::shared_ptr<const CpuModel> fp32,
                     const std::vector<int32_t>& prompt, const std::vector<int32_t>& cpu_tokens,
                     const std::vector<int32_t>& gpu_tokens, const float* gpu_logits_at, size_t at,
                     int64_t vocab, int* ties) {
  CpuSession s(fp32);
  auto logits = s.Prefill(prompt);
  ASSERT_TRUE(logits.ok());
  for (size_t i = 0; i < at; ++i) {
    logits = s.DecodeStep(cpu_tokens[i]);
    ASSERT_TRUE(logits.ok());
  }
  const float* l = logits->data();
  const double margin = l[cpu_tokens[at]] - l[gpu_tokens[at]];
  const double rms = RmsDiff(gpu_logits_at, l, vocab);
  if (margin <= 4 * rms) {
    ++*ties;
    std::printf(
        "[gpu-vs-cpu] %s: greedy token %zu differs (cpu %d, gpu %d) at a near tie: cpu "
        "margin %.3g <= 4 x rms logit diff %.3g (reported, not asserted)\n",
        what.c_str(), at, cpu_tokens[at], gpu_tokens[at], margin, rms);
  } else {
    ADD_FAILURE() << what << ": greedy token " << at << " differs (cpu " << cpu_tokens[at]
                  << ", gpu " << gpu_tokens[at] << ") with cpu margin " << margin
                  << " > 4 x rms logit diff " << rms;
  }
}

TEST_P(GpuModelTest, BatchedGreedyDecodingMatchesTheCpuReferenceTokenForToken) {
  auto session = NewSession();
  ASSERT_NE(session, nullptr);
  const int kNew = 32;
  std::vector<std::vector<int32_t>> prompts;
  for (size_t b = 0; b < kLengths.size(); ++b) {
    prompts.push_back(PromptTokens(kLengths[b], vocab_, 60 + b));
  }
  const size_t n = prompts.size();
  // GPU greedy by hand, keeping every step's logits for the divergence check.
  std::vector<int64_t> seqs;
  std::vector<std::vector<int32_t>> gpu_tokens(n);
  std::vector<std::vector<std::vector<float>>> gpu_logits(n);
  int argmax_mismatches = 0;
  auto take = [&](const std::vector<size_t>& rows) {
    auto logits = session->LogitsToHost();
    auto best = session->ArgmaxToHost();
    ASSERT_TRUE(logits.ok() && best.ok());
    for (size_t i = 0; i < rows.size(); ++i) {
      const float* row = logits->data() + i * vocab_;
      argmax_mismatches += (*best)[i] != Argmax(row, vocab_);
      gpu_tokens[rows[i]].push_back((*best)[i]);
      gpu_logits[rows[i]].emplace_back(row, row + vocab_);
    }
  };
  for (size_t b = 0; b < n; ++b) {
    auto seq = session->AddSequence();
    ASSERT_TRUE(seq.ok());
    seqs.push_back(*seq);
    ASSERT_TRUE(session->Prefill(*seq, prompts[b]).ok());
    take({b});
  }
  std::vector<size_t> all(n);
  for (size_t b = 0; b < n; ++b) all[b] = b;
  for (int step = 1; step < kNew; ++step) {
    std::vector<int32_t> feed;
    for (size_t b = 0; b < n; ++b) feed.push_back(gpu_tokens[b].back());
    ASSERT_TRUE(session->DecodeStep(seqs, feed).ok());
    take(all);
  }
  EXPECT_EQ(argmax_mismatches, 0) << "device argmax disagrees with host argmax of the same logits";
  // The library's own generator gives the same tokens as the hand-rolled loop.
  auto generated = GpuGreedyGenerate(session.get(), prompts, kNew);
  ASSERT_TRUE(generated.ok()) << generated.status().ToString();
  EXPECT_EQ(*generated, gpu_tokens);

  auto cpu = GreedyGenerate(m_->fp32, prompts, kNew);
  ASSERT_TRUE(cpu.ok());
  int identical = 0, ties = 0;
  for (size_t b = 0; b < n; ++b) {
    ASSERT_EQ(gpu_tokens[b].size(), static_cast<size_t>(kNew));
    const auto& c = (*cpu)[b];
    size_t at = 0;
    while (at < c.size() && c[at] == gpu_tokens[b][at]) ++at;
    if (at == c.size()) {
      ++identical;
      continue;
    }
    if (Strict()) {
      ADD_FAILURE() << Name("greedy prompt " + std::to_string(prompts[b].size()))
                    << ": greedy token " << at << " differs (cpu " << c[at] << ", gpu "
                    << gpu_tokens[b][at] << "); fixtures must match token for token";
      continue;
    }
    CheckDivergence(Name("greedy prompt " + std::to_string(prompts[b].size())), m_->fp32,
                    prompts[b], c, gpu_tokens[b], gpu_logits[b][at].data(), at, vocab_, &ties);
  }
  std::printf(
      "[gpu-vs-cpu] %-48s %zu/%zu sequences identical over %d tokens, %d near-tie "
      "divergences\n",
      Name("greedy batch 1/63/64/65").c_str(), static_cast<size_t>(identical), n, kNew, ties);
  RecordProperty("greedy_identical", identical);
  RecordProperty("greedy_near_ties", ties);
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The issue's bounds against transformers itself (expected.json, float64): prefill logits within
// kFp32Tolerance (2e-2) at every prompt position, and 32 greedy tokens identical, generated
// free-running by GpuGreedyGenerate (batched over the fixture's three prompts).
TEST_P(GpuModelTest, MatchesTransformersWithinTheIssueBounds) {
  if (m_->fixture_dir.empty()) GTEST_SKIP() << "random model: no transformers fixture";
  rapidjson::Document doc;
  const std::string text = ReadText(fs::path(m_->fixture_dir) / "expected.json");
  doc.Parse(text.c_str(), text.size());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("prompts") && doc["prompts"].IsArray());
  auto session = NewSession();
  ASSERT_NE(session, nullptr);
  std::vector<std::vector<int32_t>> prompts, expected_greedy;
  double worst = 0;
  int positions = 0;
  for (const auto& p : doc["prompts"].GetArray()) {
    std::vector<int32_t> tokens, greedy;
    for (const auto& v : p["tokens"].GetArray()) tokens.push_back(v.GetInt());
    for (const auto& v : p["greedy"].GetArray()) greedy.push_back(v.GetInt());
    ASSERT_EQ(greedy.size(), 32u);
    const auto& rows = p["logits"].GetArray();
    ASSERT_EQ(rows.Size(), tokens.size());
    auto seq = session->AddSequence();
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE(session->Prefill(*seq, tokens, /*all_positions=*/true).ok());
    auto gpu = session->LogitsToHost();
    ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();
    ASSERT_TRUE(session->RemoveSequence(*seq).ok());
    for (size_t j = 0; j < tokens.size(); ++j) {
      std::vector<float> want;
      for (const auto& v : rows[j].GetArray()) want.push_back(static_cast<float>(v.GetDouble()));
      ASSERT_EQ(want.size(), static_cast<size_t>(vocab_));
      const double err = testing::RelError(gpu->data() + j * vocab_, want.data(), vocab_);
      worst = std::max(worst, err);
      ++positions;
      EXPECT_LE(err, testing::kFp32Tolerance)
          << "prompt " << tokens.size() << " position " << j << " vs transformers";
    }
    prompts.push_back(tokens);
    expected_greedy.push_back(greedy);
  }
  auto generated = GpuGreedyGenerate(session.get(), prompts, 32);
  ASSERT_TRUE(generated.ok()) << generated.status().ToString();
  int identical = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    EXPECT_EQ((*generated)[b], expected_greedy[b]) << "greedy tokens of prompt " << b;
    identical += (*generated)[b] == expected_greedy[b];
  }
  std::printf(
      "[gpu-vs-cpu] %-48s prefill max rel err %.2e over %d positions (bound %.0e); %d/%zu "
      "greedy sequences of 32 identical\n",
      Name("vs transformers expected.json").c_str(), worst, positions, testing::kFp32Tolerance,
      identical, prompts.size());
  RecordProperty("worst_vs_transformers", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(
    Models, GpuModelTest,
    ::testing::Values(ModelCase{"fixture_tiny", "deepseek_tiny", true},
                      ModelCase{"fixture_tiny_qlora", "deepseek_tiny_qlora", true},
                      ModelCase{"random_tiny", "tiny", false},
                      ModelCase{"random_tiny_qlora_grouped", "tiny-qlora-grouped", false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace sieve
