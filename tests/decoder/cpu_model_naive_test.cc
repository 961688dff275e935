// A second, deliberately naive DeepSeek-V2 forward written from the formulas, used to check the CPU
// model in ways its self-consistency tests cannot: a mistake shared by the plain, absorbed and
// decode paths (a rope position off by one, a dropped rope dim, a skipped norm) shows up here.
//
// Written in a different shape on purpose: full per-head K and V materialised for the whole
// sequence, rope as complex multiplication with frequencies recomputed from the yarn formula in
// double, routing by sorting (score, index) pairs, every linear layer read straight from the
// checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "decoder/cpu_model.h"
#include "decoder/random_model.h"
#include "decoder/weights.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

using Vec = std::vector<double>;

class NaiveModel {
 public:
  explicit NaiveModel(const ModelWeights& w) : w_(w), c_(w.config()) {}

  // Logits [tokens.size()][vocab].
  std::vector<Vec> Forward(const std::vector<int32_t>& tokens) {
    const int64_t T = static_cast<int64_t>(tokens.size());
    std::vector<Vec> h(T);
    const Vec& emb = Get("model.embed_tokens.weight");
    for (int64_t t = 0; t < T; ++t) {
      h[t] = Vec(emb.begin() + tokens[t] * c_.hidden_size,
                 emb.begin() + (tokens[t] + 1) * c_.hidden_size);
    }
    for (int64_t l = 0; l < c_.num_hidden_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      std::vector<Vec> x(T);
      for (int64_t t = 0; t < T; ++t) x[t] = Rms(h[t], p + "input_layernorm.weight");
      std::vector<Vec> a = Attention(p + "self_attn.", x);
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t i = 0; i < c_.hidden_size; ++i) h[t][i] += a[t][i];
        const Vec y = Rms(h[t], p + "post_attention_layernorm.weight");
        const Vec m = c_.IsMoeLayer(l) ? Moe(p + "mlp.", y) : Mlp(p + "mlp.", y);
        for (int64_t i = 0; i < c_.hidden_size; ++i) h[t][i] += m[i];
      }
    }
    std::vector<Vec> logits(T);
    for (int64_t t = 0; t < T; ++t) {
      logits[t] = Linear(c_.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight",
                         Rms(h[t], "model.norm.weight"));
    }
    return logits;
  }

 private:
  const Vec& Get(const std::string& name) {
    auto it = cache_.find(name);
    if (it != cache_.end()) return it->second;
    auto f = w_.ReadF32(name);
    EXPECT_TRUE(f.ok()) << name;
    Vec v(f->begin(), f->end());
    return cache_.emplace(name, std::move(v)).first->second;
  }
  Vec Linear(const std::string& name, const Vec& x) {
    const Vec& w = Get(name);
    const size_t in = x.size(), out = w.size() / in;
    Vec y(out, 0.0);
    for (size_t o = 0; o < out; ++o) {
      y[o] = std::inner_product(x.begin(), x.end(), w.begin() + o * in, 0.0);
    }
    return y;
  }
  Vec Rms(const Vec& x, const std::string& weight) {
    const Vec& g = Get(weight);
    double ss = 0;
    for (double v : x) ss += v * v;
    const double r = 1.0 / std::sqrt(ss / x.size() + c_.rms_norm_eps);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = g[i] * x[i] * r;
    return y;
  }
  // Yarn rope on adjacent pairs, from the formula: complex multiply by af * e^{i pos f_i}.
  Vec Rope(Vec x, int64_t pos) {
    const double d = static_cast<double>(c_.qk_rope_head_dim), base = c_.rope_theta;
    const auto& y = c_.yarn;
    auto corr = [&](double r) {
      return d * std::log(y.original_max_position_embeddings / (r * 2 * M_PI)) /
             (2 * std::log(base));
    };
    const double lo = std::max(std::floor(corr(y.beta_fast)), 0.0);
    const double hi = std::min(std::ceil(corr(y.beta_slow)), d - 1);
    auto ms = [&](double m) { return y.factor <= 1 ? 1.0 : 0.1 * m * std::log(y.factor) + 1; };
    const double af = y.enabled ? ms(y.mscale) / ms(y.mscale_all_dim) : 1.0;
    for (int64_t i = 0; i < c_.qk_rope_head_dim / 2; ++i) {
      double f = std::pow(base, -2.0 * i / d);
      if (y.enabled) {
        const double ramp = std::clamp((i - lo) / (hi == lo ? 0.001 : hi - lo), 0.0, 1.0);
        f = f / y.factor * ramp + f * (1 - ramp);
      }
      const std::complex<double> z =
          std::complex<double>(x[2 * i], x[2 * i + 1]) * std::polar(af, pos * f);
      x[2 * i] = z.real();
      x[2 * i + 1] = z.imag();
    }
    return x;
  }
  std::vector<Vec> Attention(const std::string& a, const std::vector<Vec>& x) {
    const int64_t T = static_cast<int64_t>(x.size()), H = c_.num_attention_heads;
    const int64_t dn = c_.qk_nope_head_dim, dr = c_.qk_rope_head_dim, dv = c_.v_head_dim;
    const int64_t L = c_.kv_lora_rank;
    double scale = 1.0 / std::sqrt(static_cast<double>(dn + dr));
    if (c_.yarn.enabled && c_.yarn.mscale_all_dim != 0) {
      const double m = 0.1 * c_.yarn.mscale_all_dim * std::log(c_.yarn.factor) + 1;
      scale *= m * m;
    }
    // Q, K, V per token and head, fully materialised.
    std::vector<std::vector<Vec>> q(T, std::vector<Vec>(H)), k = q, v = q;
    for (int64_t t = 0; t < T; ++t) {
      const Vec qa = c_.q_lora_rank > 0
                         ? Linear(a + "q_b_proj.weight", Rms(Linear(a + "q_a_proj.weight", x[t]),
                                                             a + "q_a_layernorm.weight"))
                         : Linear(a + "q_proj.weight", x[t]);
      const Vec kva = Linear(a + "kv_a_proj_with_mqa.weight", x[t]);
      const Vec latent = Rms(Vec(kva.begin(), kva.begin() + L), a + "kv_a_layernorm.weight");
      const Vec kpe = Rope(Vec(kva.begin() + L, kva.end()), t);
      const Vec kvb = Linear(a + "kv_b_proj.weight", latent);
      for (int64_t h = 0; h < H; ++h) {
        const auto qh = qa.begin() + h * (dn + dr);
        q[t][h] = Vec(qh, qh + dn);
        const Vec qpe = Rope(Vec(qh + dn, qh + dn + dr), t);
        q[t][h].insert(q[t][h].end(), qpe.begin(), qpe.end());
        const auto kh = kvb.begin() + h * (dn + dv);
        k[t][h] = Vec(kh, kh + dn);
        k[t][h].insert(k[t][h].end(), kpe.begin(), kpe.end());
        v[t][h] = Vec(kh + dn, kh + dn + dv);
      }
    }
    std::vector<Vec> out(T);
    for (int64_t t = 0; t < T; ++t) {
      Vec concat;
      for (int64_t h = 0; h < H; ++h) {
        Vec s(t + 1);
        for (int64_t u = 0; u <= t; ++u) {
          s[u] = scale * std::inner_product(q[t][h].begin(), q[t][h].end(), k[u][h].begin(), 0.0);
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double z = 0;
        for (double& e : s) z += (e = std::exp(e - mx));
        Vec o(dv, 0.0);
        for (int64_t u = 0; u <= t; ++u) {
          for (int64_t i = 0; i < dv; ++i) o[i] += s[u] / z * v[u][h][i];
        }
        concat.insert(concat.end(), o.begin(), o.end());
      }
      out[t] = Linear(a + "o_proj.weight", concat);
    }
    return out;
  }
  Vec Mlp(const std::string& p, const Vec& x) {
    Vec g = Linear(p + "gate_proj.weight", x);
    const Vec u = Linear(p + "up_proj.weight", x);
    for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
    return Linear(p + "down_proj.weight", g);
  }
  Vec Moe(const std::string& p, const Vec& x) {
    Vec s = Linear(p + "gate.weight", x);
    const double mx = *std::max_element(s.begin(), s.end());
    double z = 0;
    for (double& e : s) z += (e = std::exp(e - mx));
    for (double& e : s) e /= z;
    const int64_t E = c_.n_routed_experts;
    if (c_.topk_method == TopkMethod::kGroupLimitedGreedy) {
      const int64_t per = E / c_.n_group;
      std::vector<std::pair<double, int64_t>> groups;
      for (int64_t g = 0; g < c_.n_group; ++g) {
        groups.push_back({-*std::max_element(s.begin() + g * per, s.begin() + (g + 1) * per), g});
      }
      std::sort(groups.begin(), groups.end());
      for (int64_t j = c_.topk_group; j < c_.n_group; ++j) {
        for (int64_t e = 0; e < per; ++e) s[groups[j].second * per + e] = 0;
      }
    }
    std::vector<std::pair<double, int64_t>> ranked;
    for (int64_t e = 0; e < E; ++e) ranked.push_back({-s[e], e});
    std::sort(ranked.begin(), ranked.end());
    double sum = 0;
    for (int64_t j = 0; j < c_.num_experts_per_tok; ++j) sum -= ranked[j].first;
    Vec y = c_.n_shared_experts > 0 ? Mlp(p + "shared_experts.", x) : Vec(x.size(), 0.0);
    for (int64_t j = 0; j < c_.num_experts_per_tok; ++j) {
      double w = -ranked[j].first;
      w = (c_.num_experts_per_tok > 1 && c_.norm_topk_prob) ? w / (sum + 1e-20)
                                                            : w * c_.routed_scaling_factor;
      const Vec e = Mlp(p + "experts." + std::to_string(ranked[j].second) + ".", x);
      for (size_t i = 0; i < y.size(); ++i) y[i] += w * e[i];
    }
    return y;
  }

  const ModelWeights& w_;
  const ModelConfig& c_;
  std::map<std::string, Vec> cache_;
};

void ExpectCpuModelMatchesNaive(const ModelConfig& config) {
  ::sieve::testing::ScopedTempDir dir;
  RandomModelOptions o;
  o.out_dir = dir.File("m");
  o.seed = 9;
  o.dtype = DType::kF32;
  ASSERT_TRUE(WriteRandomModel(config, o).ok());
  auto w = LoadModelWeights(o.out_dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto model = CpuModel::FromWeights(*w);
  ASSERT_TRUE(model.ok());
  const std::vector<int32_t> tokens = {5, 17, 3, 3, 40, 22, 9, 31};
  CpuSession s(*model);
  auto got = s.Prefill(tokens, /*all_positions=*/true);
  ASSERT_TRUE(got.ok());
  NaiveModel naive(*w);
  const std::vector<Vec> want = naive.Forward(tokens);
  const int64_t V = config.vocab_size;
  double worst = 0, biggest = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    for (int64_t i = 0; i < V; ++i) {
      worst = std::max(worst, std::fabs((*got)[t * V + i] - want[t][i]));
      biggest = std::max(biggest, std::fabs(want[t][i]));
    }
  }
  EXPECT_GT(biggest, 0.1);
  EXPECT_LE(worst, 1e-4) << "largest logit " << biggest;
}

TEST(CpuModelNaive, TinyPresetMatchesTheNaiveForwardAtEveryPosition) {
  auto c = PresetConfig("tiny", 48);
  ASSERT_TRUE(c.ok());
  ExpectCpuModelMatchesNaive(*c);
}

TEST(CpuModelNaive, QLoraGroupLimitedPresetMatchesTheNaiveForward) {
  auto c = PresetConfig("tiny-qlora-grouped", 48);
  ASSERT_TRUE(c.ok());
  ExpectCpuModelMatchesNaive(*c);
}

TEST(CpuModelNaive, RenormalisedTopkAndRopeAttentionFactorMatchTheNaiveForward) {
  auto c = PresetConfig("tiny", 48);
  ASSERT_TRUE(c.ok());
  c->norm_topk_prob = true;
  c->yarn.mscale = 1.0;
  c->yarn.mscale_all_dim = 0.0;  // attention factor 1.37 on cos/sin, no softmax factor
  c->tie_word_embeddings = true;
  ExpectCpuModelMatchesNaive(*c);
}

}  // namespace
}  // namespace sieve
