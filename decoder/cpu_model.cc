// fp32 CPU DeepSeek-V2 forward; the algorithm and invariants are in cpu_model.h.
#include "decoder/cpu_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace sieve {
namespace {

double Dot(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// y[r] = sum_c W[r, c] x[c]
void MatVec(const CpuMatrix& w, const float* x, float* y) {
  for (int64_t r = 0; r < w.rows; ++r) y[r] = static_cast<float>(Dot(w.row(r), x, w.cols));
}

void RmsNorm(const float* x, const std::vector<float>& weight, double eps, float* y) {
  const int64_t n = static_cast<int64_t>(weight.size());
  const double ms = Dot(x, x, n) / static_cast<double>(n);
  const float inv = static_cast<float>(1.0 / std::sqrt(ms + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = weight[i] * (x[i] * inv);
}

float Silu(float v) { return v / (1.0f + std::exp(-v)); }

// Rounds n values to bf16 (and back) in place when `on` (CpuModelOptions::emulate_bf16_...).
void RoundBf16(bool on, float* x, int64_t n) {
  if (!on) return;
  for (int64_t i = 0; i < n; ++i) x[i] = Bf16ToF32(F32ToBf16(x[i]));
}

// down(silu(gate x) * up x) into `out` (overwritten); the activation is rounded to bf16 when
// `round_act`.
void SwiGlu(const CpuModel::Mlp& m, const float* x, float* out, bool round_act = false) {
  std::vector<float> g(m.gate.rows), u(m.up.rows);
  MatVec(m.gate, x, g.data());
  MatVec(m.up, x, u.data());
  for (size_t i = 0; i < g.size(); ++i) g[i] = Silu(g[i]) * u[i];
  RoundBf16(round_act, g.data(), static_cast<int64_t>(g.size()));
  MatVec(m.down, g.data(), out);
}

class Reader {
 public:
  explicit Reader(const ModelWeights& w) : w_(w) {}
  Status Vec(const std::string& name, std::vector<float>* out) {
    SIEVE_ASSIGN_OR_RETURN(*out, w_.ReadF32(name));
    return Status::Ok();
  }
  Status Mat(const std::string& name, CpuMatrix* out) {
    auto e = w_.Get(name);
    if (!e.info || e.info->shape.size() != 2) {
      return InternalError("CpuModel: tensor " + name + " is not a validated matrix");
    }
    out->rows = e.info->shape[0];
    out->cols = e.info->shape[1];
    return Vec(name, &out->data);
  }
  Status Mlp(const std::string& prefix, CpuModel::Mlp* m) {
    SIEVE_RETURN_IF_ERROR(Mat(prefix + "gate_proj.weight", &m->gate));
    SIEVE_RETURN_IF_ERROR(Mat(prefix + "up_proj.weight", &m->up));
    return Mat(prefix + "down_proj.weight", &m->down);
  }

 private:
  const ModelWeights& w_;
};

}  // namespace

// ---- loading -------------------------------------------------------------------------

Result<std::shared_ptr<const CpuModel>> CpuModel::FromWeights(const ModelWeights& weights,
                                                              const CpuModelOptions& options) {
  const ModelConfig& c = weights.config();
  const uint64_t bytes = ParameterCount(c) * 4;
  if (bytes > options.max_weight_bytes) {
    return LimitError("CpuModel: " + weights.folder() + " needs " + std::to_string(bytes) +
                      " bytes of fp32 weights, over the limit of " +
                      std::to_string(options.max_weight_bytes));
  }
  std::shared_ptr<CpuModel> m(new CpuModel());
  m->emulate_bf16_ = options.emulate_bf16_activations;
  m->config_ = c;
  m->rope_ = ComputeRope(c);
  m->softmax_scale_ = SoftmaxScale(c);
  m->routing_ = RoutingParams::FromConfig(c);
  Reader r(weights);
  SIEVE_RETURN_IF_ERROR(r.Mat("model.embed_tokens.weight", &m->embed_));
  SIEVE_RETURN_IF_ERROR(r.Vec("model.norm.weight", &m->final_norm_));
  if (!c.tie_word_embeddings) SIEVE_RETURN_IF_ERROR(r.Mat("lm_head.weight", &m->lm_head_));
  m->layers_.resize(c.num_hidden_layers);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    Layer& l = m->layers_[i];
    const std::string p = LayerPrefix(i);
    const std::string a = p + "self_attn.";
    SIEVE_RETURN_IF_ERROR(r.Vec(p + "input_layernorm.weight", &l.input_norm));
    SIEVE_RETURN_IF_ERROR(r.Vec(p + "post_attention_layernorm.weight", &l.post_attention_norm));
    if (c.q_lora_rank > 0) {
      SIEVE_RETURN_IF_ERROR(r.Mat(a + "q_a_proj.weight", &l.q_a_proj));
      SIEVE_RETURN_IF_ERROR(r.Vec(a + "q_a_layernorm.weight", &l.q_a_norm));
      SIEVE_RETURN_IF_ERROR(r.Mat(a + "q_b_proj.weight", &l.q_b_proj));
    } else {
      SIEVE_RETURN_IF_ERROR(r.Mat(a + "q_proj.weight", &l.q_proj));
    }
    SIEVE_RETURN_IF_ERROR(r.Mat(a + "kv_a_proj_with_mqa.weight", &l.kv_a_proj));
    SIEVE_RETURN_IF_ERROR(r.Vec(a + "kv_a_layernorm.weight", &l.kv_a_norm));
    SIEVE_RETURN_IF_ERROR(r.Mat(a + "kv_b_proj.weight", &l.kv_b_proj));
    SIEVE_RETURN_IF_ERROR(r.Mat(a + "o_proj.weight", &l.o_proj));
    l.moe = c.IsMoeLayer(i);
    if (!l.moe) {
      SIEVE_RETURN_IF_ERROR(r.Mlp(p + "mlp.", &l.dense));
      continue;
    }
    SIEVE_RETURN_IF_ERROR(r.Mat(p + "mlp.gate.weight", &l.router));
    l.experts.resize(c.n_routed_experts);
    for (int64_t e = 0; e < c.n_routed_experts; ++e) {
      SIEVE_RETURN_IF_ERROR(r.Mlp(ExpertPrefix(i, e), &l.experts[e]));
    }
    l.has_shared = c.n_shared_experts > 0;
    if (l.has_shared) SIEVE_RETURN_IF_ERROR(r.Mlp(p + "mlp.shared_experts.", &l.shared));
  }
  return std::shared_ptr<const CpuModel>(std::move(m));
}

Result<std::shared_ptr<const CpuModel>> CpuModel::Load(const std::string& folder,
                                                       const CpuModelOptions& options) {
  SIEVE_ASSIGN_OR_RETURN(ModelWeights w, LoadModelWeights(folder));
  return FromWeights(w, options);
}

// ---- session -------------------------------------------------------------------------

CpuSession::CpuSession(std::shared_ptr<const CpuModel> model) : model_(std::move(model)) {
  Reset();
}

void CpuSession::Reset() {
  length_ = 0;
  cache_.assign(model_->config().num_hidden_layers, {});
  min_margin_ = std::numeric_limits<float>::infinity();
}

Result<std::vector<float>> CpuSession::Prefill(const std::vector<int32_t>& tokens,
                                               bool all_positions, AttentionForm form) {
  return Forward(tokens, form, all_positions);
}

Result<std::vector<float>> CpuSession::DecodeStep(int32_t token) {
  return Forward({token}, AttentionForm::kAbsorbed, false);
}

Result<std::vector<float>> CpuSession::Forward(const std::vector<int32_t>& tokens,
                                               AttentionForm form, bool all_positions) {
  const ModelConfig& c = model_->config();
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t hd = c.hidden_size;
  const bool bf16 = model_->emulates_bf16();
  if (n == 0) return InvalidArgument("CpuSession: no tokens to run");
  for (int32_t t : tokens) {
    if (t < 0 || t >= c.vocab_size) {
      return InvalidArgument("CpuSession: token id " + std::to_string(t) + " is outside [0, " +
                             std::to_string(c.vocab_size) + ")");
    }
  }
  if (c.max_position_embeddings > 0 && length_ + n > c.max_position_embeddings) {
    return LimitError("CpuSession: " + std::to_string(length_ + n) +
                      " positions exceed max_position_embeddings " +
                      std::to_string(c.max_position_embeddings));
  }
  std::vector<float> h(n * hd), x(n * hd), y(n * hd);
  token_margins_.assign(n, std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n; ++j) {
    const float* e = model_->embedding().row(tokens[j]);
    std::copy(e, e + hd, h.data() + j * hd);
  }
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const CpuModel::Layer& layer = model_->layers()[l];
    for (int64_t j = 0; j < n; ++j) {
      RmsNorm(h.data() + j * hd, layer.input_norm, c.rms_norm_eps, x.data() + j * hd);
      RoundBf16(bf16, x.data() + j * hd, hd);
    }
    Attention(l, x, n, form, &y);
    for (int64_t i = 0; i < n * hd; ++i) h[i] += y[i];
    for (int64_t j = 0; j < n; ++j) {
      float* xj = x.data() + j * hd;
      RmsNorm(h.data() + j * hd, layer.post_attention_norm, c.rms_norm_eps, xj);
      RoundBf16(bf16, xj, hd);
      if (layer.moe) {
        token_margins_[j] = std::min(token_margins_[j], Moe(layer, xj, y.data() + j * hd));
      } else {
        SwiGlu(layer.dense, xj, y.data() + j * hd, bf16);
      }
    }
    for (int64_t i = 0; i < n * hd; ++i) h[i] += y[i];
  }
  length_ += n;
  const int64_t first = all_positions ? 0 : n - 1;
  std::vector<float> logits((n - first) * c.vocab_size);
  for (int64_t j = first; j < n; ++j) {
    RmsNorm(h.data() + j * hd, model_->final_norm(), c.rms_norm_eps, x.data());
    RoundBf16(bf16, x.data(), hd);
    MatVec(model_->lm_head(), x.data(), logits.data() + (j - first) * c.vocab_size);
  }
  return logits;
}

void CpuSession::Attention(int64_t l, const std::vector<float>& x, int64_t n, AttentionForm form,
                           std::vector<float>* out) {
  const ModelConfig& c = model_->config();
  const CpuModel::Layer& layer = model_->layers()[l];
  const int64_t hd = c.hidden_size, nh = c.num_attention_heads;
  const int64_t nope = c.qk_nope_head_dim, rd = c.qk_rope_head_dim, qk = c.qk_head_dim();
  const int64_t vd = c.v_head_dim, lat = c.kv_lora_rank, cd = c.LatentCacheDim();
  const int64_t kvb_rows = nope + vd;  // kv_b_proj rows per head: [k_nope | v]
  const double scale = model_->softmax_scale();
  const bool bf16 = model_->emulates_bf16();

  // Queries, and the new tokens' latents appended to the cache.
  std::vector<float> q(n * nh * qk);
  std::vector<float>& cache = cache_[l];
  cache.resize((length_ + n) * cd);
  std::vector<float> tmp(std::max<int64_t>(c.q_lora_rank, cd));
  for (int64_t j = 0; j < n; ++j) {
    const float* xj = x.data() + j * hd;
    float* qj = q.data() + j * nh * qk;
    if (c.q_lora_rank > 0) {
      MatVec(layer.q_a_proj, xj, tmp.data());
      RmsNorm(tmp.data(), layer.q_a_norm, c.rms_norm_eps, tmp.data());
      RoundBf16(bf16, tmp.data(), c.q_lora_rank);
      MatVec(layer.q_b_proj, tmp.data(), qj);
    } else {
      MatVec(layer.q_proj, xj, qj);
    }
    const int64_t pos = length_ + j;
    for (int64_t head = 0; head < nh; ++head) {
      ApplyRope(model_->rope(), pos, qj + head * qk + nope);
      RoundBf16(bf16, qj + head * qk, nope);  // q_nope enters the W_UK GEMM as bf16
    }
    float* cj = cache.data() + pos * cd;
    MatVec(layer.kv_a_proj, xj, cj);
    RmsNorm(cj, layer.kv_a_norm, c.rms_norm_eps, cj);
    ApplyRope(model_->rope(), pos, cj + lat);
    RoundBf16(bf16, cj, cd);
  }

  const int64_t total = length_ + n;
  // Plain form: materialise k_nope and v for every cached token once per call.
  std::vector<float> kv;
  if (form == AttentionForm::kPlain) {
    kv.resize(total * nh * kvb_rows);
    for (int64_t t = 0; t < total; ++t) {
      MatVec(layer.kv_b_proj, cache.data() + t * cd, kv.data() + t * nh * kvb_rows);
    }
    RoundBf16(bf16, kv.data(), total * nh * kvb_rows);  // kv_b_proj's output is bf16 there
  }
  std::vector<float> heads(nh * vd), scores(total), qlat(lat), olat(lat);
  for (int64_t j = 0; j < n; ++j) {
    const int64_t visible = length_ + j + 1;  // causal: positions 0..pos
    for (int64_t head = 0; head < nh; ++head) {
      const float* qh = q.data() + (j * nh + head) * qk;
      const float* qpe = qh + nope;
      float* oh = heads.data() + head * vd;
      if (form == AttentionForm::kAbsorbed) {
        // q_lat[i] = sum_r W_UK[r, i] q_nope[r], W_UK = kv_b rows [head * kvb_rows, + nope).
        for (int64_t i = 0; i < lat; ++i) {
          double s = 0;
          for (int64_t r = 0; r < nope; ++r)
            s += double{layer.kv_b_proj.row(head * kvb_rows + r)[i]} * qh[r];
          qlat[i] = static_cast<float>(s);
        }
      }
      for (int64_t t = 0; t < visible; ++t) {
        const float* ct = cache.data() + t * cd;
        double s;
        if (form == AttentionForm::kAbsorbed) {
          s = Dot(qlat.data(), ct, lat);
        } else {
          s = Dot(qh, kv.data() + (t * nh + head) * kvb_rows, nope);
        }
        s += Dot(qpe, ct + lat, rd);
        scores[t] = static_cast<float>(s * scale);
      }
      Softmax(scores.data(), visible);
      // The plain form multiplies V by bf16 probabilities (transformers casts the softmax to the
      // model dtype; flash attention rounds P too); the absorbed GPU kernel keeps P fp32-exact.
      if (form == AttentionForm::kPlain) RoundBf16(bf16, scores.data(), visible);
      if (form == AttentionForm::kAbsorbed) {
        for (int64_t i = 0; i < lat; ++i) {
          double s = 0;
          for (int64_t t = 0; t < visible; ++t) s += double{scores[t]} * cache[t * cd + i];
          olat[i] = static_cast<float>(s);
        }
        RoundBf16(bf16, olat.data(), lat);
        for (int64_t r = 0; r < vd; ++r) {
          oh[r] = static_cast<float>(
              Dot(layer.kv_b_proj.row(head * kvb_rows + nope + r), olat.data(), lat));
        }
      } else {
        for (int64_t r = 0; r < vd; ++r) {
          double s = 0;
          for (int64_t t = 0; t < visible; ++t) {
            s += double{scores[t]} * kv[(t * nh + head) * kvb_rows + nope + r];
          }
          oh[r] = static_cast<float>(s);
        }
      }
      RoundBf16(bf16, oh, vd);
    }
    MatVec(layer.o_proj, heads.data(), out->data() + j * hd);
  }
}

float CpuSession::Moe(const CpuModel::Layer& layer, const float* x, float* out) {
  const int64_t hd = model_->config().hidden_size;
  std::vector<float> logits(layer.router.rows), tmp(hd);
  MatVec(layer.router, x, logits.data());
  const Routing r = RouteFromLogits(logits.data(), model_->routing());
  min_margin_ = std::min(min_margin_, r.margin);
  std::vector<double> acc(hd, 0.0);
  for (size_t j = 0; j < r.experts.size(); ++j) {
    SwiGlu(layer.experts[r.experts[j]], x, tmp.data());
    for (int64_t i = 0; i < hd; ++i) acc[i] += double{r.weights[j]} * tmp[i];
  }
  if (layer.has_shared) {
    SwiGlu(layer.shared, x, tmp.data(), model_->emulates_bf16());
    for (int64_t i = 0; i < hd; ++i) acc[i] += tmp[i];
  }
  for (int64_t i = 0; i < hd; ++i) out[i] = static_cast<float>(acc[i]);
  return r.margin;
}

// ---- generation ----------------------------------------------------------------------

int32_t Argmax(const float* logits, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

Result<std::vector<std::vector<int32_t>>> GreedyGenerate(
    std::shared_ptr<const CpuModel> model, const std::vector<std::vector<int32_t>>& prompts,
    int64_t max_new_tokens, int64_t eos_token_id) {
  const int64_t vocab = model->config().vocab_size;
  std::vector<CpuSession> sessions;
  std::vector<std::vector<int32_t>> out(prompts.size());
  std::vector<int32_t> next(prompts.size());
  std::vector<bool> done(prompts.size(), max_new_tokens <= 0);
  for (size_t b = 0; b < prompts.size(); ++b) {
    sessions.emplace_back(model);
    SIEVE_ASSIGN_OR_RETURN(std::vector<float> logits, sessions[b].Prefill(prompts[b]));
    next[b] = Argmax(logits.data(), vocab);
  }
  // One decode step per round for every live sequence, as a batched engine would schedule them.
  for (int64_t step = 0; step < max_new_tokens; ++step) {
    for (size_t b = 0; b < prompts.size(); ++b) {
      if (done[b]) continue;
      out[b].push_back(next[b]);
      if (next[b] == eos_token_id || static_cast<int64_t>(out[b].size()) == max_new_tokens) {
        done[b] = true;
        continue;
      }
      SIEVE_ASSIGN_OR_RETURN(std::vector<float> logits, sessions[b].DecodeStep(next[b]));
      next[b] = Argmax(logits.data(), vocab);
    }
  }
  return out;
}

}  // namespace sieve
