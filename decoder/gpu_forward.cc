// The GPU forward pass of one step: embedding, every layer's MLA and MLP/MoE, the final norm and
// lm_head, enqueued on the session's stream over the workspace that GpuSession::Init laid out.
// The math and the per-step index arrays are described in gpu_model.h; this file only wires the
// cuda/ launchers together (shapes noted at each call). Every launcher's cudaError_t and every
// cuBLAS status goes through Check(), which poisons the session on failure.
#include <algorithm>
#include <functional>
#include <string>
#include <utility>

#include "cuda/attention/latent_cache.h"
#include "cuda/attention/mha_prefill.h"
#include "cuda/attention/mla_decode.h"
#include "cuda/attention/q_absorb.h"
#include "cuda/attention/value_up.h"
#include "cuda/config.h"
#include "cuda/elementwise/elementwise.h"
#include "cuda/gemm/gemm.h"
#include "cuda/gemm/gemv.h"
#include "cuda/moe/expert_ffn.h"
#include "cuda/moe/fused_routing.h"
#include "cuda/moe/gemv_routed.h"
#include "cuda/moe/router_logits.h"
#include "cuda/moe/routing.h"
#include "cuda/norm/rms_norm.h"
#include "cuda/rope/rope.h"
#include "decoder/gpu_model.h"

namespace sieve {
namespace {

cuda::GemmParams PlainGemm(const __nv_bfloat16* a, const __nv_bfloat16* w, void* c, bool c_bf16,
                           int32_t m, int32_t n, int32_t k) {
  cuda::GemmParams g{};
  g.a = a;
  g.lda = k;
  g.stride_a = 0;
  g.w = w;
  g.ldw = k;
  g.stride_w = 0;
  g.weight_kn = false;
  g.c = c;
  g.ldc = n;
  g.stride_c = 0;
  g.c_bf16 = c_bf16;
  g.m = m;
  g.n = n;
  g.k = k;
  g.batch = 1;
  g.alpha = 1.0f;
  g.beta = 0.0f;
  return g;
}

// RMSNorm of `rows` rows of `dim`, optionally adding `delta` into x first (residual add).
cuda::RmsNormParams Norm(float* x, const float* delta, const __nv_bfloat16* weight,
                         __nv_bfloat16* out, int32_t rows, int32_t dim, float eps) {
  cuda::RmsNormParams p{};
  p.x = x;
  p.x_stride = dim;
  p.delta = delta;
  p.delta_stride = dim;
  p.weight = weight;
  p.out = out;
  p.out_stride = dim;
  p.rows = rows;
  p.dim = dim;
  p.eps = eps;
  return p;
}

}  // namespace

Status GpuSession::Gemm(const __nv_bfloat16* a, const __nv_bfloat16* w, float* c, int32_t m,
                        int32_t n, int32_t k, const char* what, bool aside) {
  return RunGemm(PlainGemm(a, w, c, false, m, n, k), what, aside);
}

Status GpuSession::RunGemm(const cuda::GemmParams& g, const char* what, bool aside) {
  cublasStatus_t cs = CUBLAS_STATUS_SUCCESS;
  const cudaError_t e = aside ? cuda::LaunchGemm(aux_cublas_, g, aux_stream_, &cs)
                              : cuda::LaunchGemm(cublas_, g, stream_, &cs);
  if (e == cudaSuccess) return Status::Ok();
  if (poisoned_.ok()) {
    poisoned_ = cs != CUBLAS_STATUS_SUCCESS
                    ? CublasStatus(cs, std::string("GpuSession: GEMM ") + what)
                    : CudaStatus(e, std::string("GpuSession: GEMM ") + what);
  }
  return poisoned_;
}

Status GpuSession::NormFallback(const cuda::GemvNorm& n, __nv_bfloat16* x, int32_t T,
                                int32_t k) {
  SIEVE_RETURN_IF_ERROR(Check(cudaMemcpyAsync(n.h_out, n.h, sizeof(float) * T * k,
                                              cudaMemcpyDeviceToDevice, stream_),
                              "copy residual stream"));
  return Check(cuda::LaunchRmsNorm(Norm(n.h_out, n.delta, n.weight, x, T, k, n.eps), stream_),
               "RMSNorm");
}

Status GpuSession::Project(const __nv_bfloat16* x, int32_t T, int32_t k,
                           std::initializer_list<Projection> outs, const char* what,
                           const cuda::GemvNorm* norm) {
  // Decode-sized steps: one GEMV launch streams every output's weights (gemv.h); cuBLAS for
  // larger steps or shapes the GEMV does not take (k % 8 != 0, ...).
  if (T <= cuda::kGemvDecoderMaxRows && outs.size() <= static_cast<size_t>(cuda::kGemvMaxSegments)) {
    cuda::GemvParams g{};
    g.x = x;
    g.ldx = k;
    g.rows = T;
    g.k = k;
    g.segments = static_cast<int32_t>(outs.size());
    int s = 0;
    for (const Projection& o : outs) g.seg[s++] = {o.w, o.n, o.y, o.n, false};
    if (norm) g.norm = *norm;
    if (cuda::GemvSupported(g)) return Check(cuda::LaunchGemv(g, stream_, pdl_), what);
  }
  if (norm) SIEVE_RETURN_IF_ERROR(NormFallback(*norm, const_cast<__nv_bfloat16*>(x), T, k));
  for (const Projection& o : outs) SIEVE_RETURN_IF_ERROR(Gemm(x, o.w, o.y, T, o.n, k, what));
  return Status::Ok();
}

Status GpuSession::Forward(int32_t T, int32_t rows, bool identity_rows) {
  const ModelConfig& c = model_->config();
  const GpuWeights& w = model_->weights();
  const int32_t H = static_cast<int32_t>(c.hidden_size);
  const int32_t V = static_cast<int32_t>(c.vocab_size);
  const float eps = static_cast<float>(c.rms_norm_eps);
  // Decode-sized steps chain their main-stream kernels with programmatic dependent launch
  // (gpu_model.h); cuBLAS, the norms and the side stream's kernels launch as usual.
  pdl_ = options_.programmatic_launch && pdl_capable_ && T <= cuda::kGemvDecoderMaxRows;

  Mark("embed");
  cuda::EmbeddingParams emb{w.embedding(), DeviceStep<int32_t>(step_.tokens), h_, H, T, V, H};
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchEmbedding(emb, stream_), "embedding"));
  // The residual stream h. Decode steps of up to kGemvDecoderMaxRows tokens fuse each sublayer's
  // RMSNorm into the GEMV that first reads its x (gemv.h GemvNorm): every block normalises for
  // itself and block 0 writes h + delta into the other buffer, so h ping-pongs between h_ and
  // h_alt_ (the order is fixed per step size, so captured graphs stay valid). Larger steps
  // run the RMSNorm kernel in place.
  float* h = h_;
  float* h_next = h_alt_;
  const bool fuse =
      T <= cuda::kGemvDecoderMaxRows && static_cast<int64_t>(T) * H <= cuda::kGemvMaxNormElements;
  auto fused_norm = [&](const __nv_bfloat16* weight, const float* delta, bool x_out) {
    const cuda::GemvNorm n{weight, h, delta, h_next, x_out, eps};
    std::swap(h, h_next);
    return n;
  };
  // A MoE layer of 1-2 tokens may leave its shared experts' down_proj running on the side
  // stream, adding into h (MoeSharedAside): the main stream joins it before the next norm reads h.
  // (The next layer's first GEMV then follows that join with PDL: its wait covers the side
  // stream's kernel too, pdl.cuh; tests/cuda/gemv_test.cc holds that.)
  shared_aside_layers_ = 0;
  shared_aside_ = false;
  auto join_shared = [&]() -> Status {
    if (!shared_aside_) return Status::Ok();
    shared_aside_ = false;
    return Join();
  };
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const GpuLayerWeights& L = w.layers()[l];
    SIEVE_RETURN_IF_ERROR(join_shared());
    // h += previous sublayer output (none before layer 0); x = RMSNorm(h).
    Mark("attn.qkv");
    const float* delta = l == 0 ? nullptr : y_;
    if (fuse) {
      const cuda::GemvNorm n = fused_norm(L.input_norm, delta, false);
      SIEVE_RETURN_IF_ERROR(Attention(l, T, &n));  // -> y_
    } else {
      SIEVE_RETURN_IF_ERROR(Check(
          cuda::LaunchRmsNorm(Norm(h, delta, L.input_norm, x_, T, H, eps), stream_),
          "input_layernorm"));
      SIEVE_RETURN_IF_ERROR(Attention(l, T, nullptr));  // -> y_
    }
    Mark(L.moe ? "moe.norm" : "mlp.dense");  // moe.norm is empty where the GEMV fuses it
    if (fuse && (!L.moe || L.has_shared)) {
      // The MoE's x_ is also read by the router and the routed experts: block 0 writes it.
      const cuda::GemvNorm n = fused_norm(L.post_attention_norm, y_, L.moe);
      SIEVE_RETURN_IF_ERROR(L.moe ? Moe(L, T, &n) : Mlp(L.dense, x_, y_, T, &n, {}));  // -> y_
      continue;
    }
    SIEVE_RETURN_IF_ERROR(
        Check(cuda::LaunchRmsNorm(Norm(h, y_, L.post_attention_norm, x_, T, H, eps), stream_),
              "post_attention_layernorm"));
    if (L.moe) {
      SIEVE_RETURN_IF_ERROR(Moe(L, T, nullptr));  // -> y_
    } else {
      SIEVE_RETURN_IF_ERROR(Mlp(L.dense, x_, y_, T, nullptr, {}));
    }
  }
  SIEVE_RETURN_IF_ERROR(join_shared());
  Mark("head");
  SIEVE_RETURN_IF_ERROR(Check(
      cuda::LaunchRmsNorm(Norm(h, y_, w.final_norm(), x_, T, H, eps), stream_), "final norm"));
  const __nv_bfloat16* x = x_;
  if (!identity_rows) {
    cuda::GatherRowsParams g{x_, T, DeviceStep<int32_t>(step_.logit_rows), x_rows_, H, rows, H};
    SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchGatherRows(g, stream_), "gather logit rows"));
    x = x_rows_;
  }
  SIEVE_RETURN_IF_ERROR(Gemm(x, w.lm_head(), logits_, rows, V, H, "lm_head"));  // [rows, V]
  Mark("end");
  return Status::Ok();
}

Status GpuSession::Attention(int64_t layer, int32_t T, const cuda::GemvNorm* norm) {
  const ModelConfig& c = model_->config();
  const GpuLayerWeights& L = model_->weights().layers()[layer];
  const int32_t H = static_cast<int32_t>(c.hidden_size);
  const int32_t nh = static_cast<int32_t>(c.num_attention_heads);
  const int32_t qk = static_cast<int32_t>(c.qk_head_dim());
  const int32_t nope = static_cast<int32_t>(c.qk_nope_head_dim);
  const int32_t rd = static_cast<int32_t>(c.qk_rope_head_dim);
  const int32_t lat = static_cast<int32_t>(c.kv_lora_rank);
  const int32_t vd = static_cast<int32_t>(c.v_head_dim);
  const int32_t ql = static_cast<int32_t>(c.q_lora_rank);
  const int32_t width = lat + rd;
  const float eps = static_cast<float>(c.rms_norm_eps);

  // q [T, nh * qk] fp32.
  // [c | k_pe] = kv_a x [T, width] fp32, in the same launch as q (or q_a) where the GEMV runs;
  // on cuBLAS steps on the side stream, with the cache append, while q_proj runs (kv_a_proj
  // alone fills few SMs: 12 blocks at batch 8).
  cuda::LatentAppendParams la{kv_a_,
                              width,
                              L.kv_a_norm,
                              eps,
                              DeviceStep<int32_t>(step_.positions),
                              model_->inv_freq(),
                              model_->attention_factor(),
                              DeviceStep<int64_t>(step_.slots),
                              cache_->layer(layer),
                              T,
                              lat,
                              rd};
  const bool kv_a_aside = T > cuda::kGemvDecoderMaxRows;
  if (kv_a_aside) {
    if (norm) SIEVE_RETURN_IF_ERROR(NormFallback(*norm, x_, T, H));
    SIEVE_RETURN_IF_ERROR(Fork());
    SIEVE_RETURN_IF_ERROR(
        Gemm(x_, L.kv_a_proj, kv_a_, T, width, H, "kv_a_proj_with_mqa", /*aside=*/true));
    SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchLatentAppend(la, aux_stream_), "latent cache append"));
    norm = nullptr;
  }
  if (ql > 0) {
    if (kv_a_aside) {
      SIEVE_RETURN_IF_ERROR(Project(x_, T, H, {{L.q_a_proj, ql, q_a_}}, "q_a_proj"));  // [T, ql]
    } else {
      SIEVE_RETURN_IF_ERROR(Project(x_, T, H, {{L.q_a_proj, ql, q_a_}, {L.kv_a_proj, width, kv_a_}},
                                    "q_a_proj + kv_a_proj_with_mqa", norm));  // + [T, width]
    }
    SIEVE_RETURN_IF_ERROR(
        Check(cuda::LaunchRmsNorm(Norm(q_a_, nullptr, L.q_a_norm, q_a_norm_, T, ql, eps), stream_),
              "q_a_layernorm"));
    SIEVE_RETURN_IF_ERROR(Project(q_a_norm_, T, ql, {{L.q_b_proj, nh * qk, q_}}, "q_b_proj"));
  } else if (kv_a_aside) {
    SIEVE_RETURN_IF_ERROR(Project(x_, T, H, {{L.q_proj, nh * qk, q_}}, "q_proj"));
  } else {
    SIEVE_RETURN_IF_ERROR(Project(x_, T, H, {{L.q_proj, nh * qk, q_}, {L.kv_a_proj, width, kv_a_}},
                                  "q_proj + kv_a_proj_with_mqa", norm));
  }
  if (mha_first_position_ >= 0) return MhaPrefill(layer, T);
  // q_abs [T, nh, width] = [W_UK[h]^T bf16(q_nope[h]) | rope(q_pe[h])]: one launch for
  // decode-sized steps (q_absorb.h), else cast + strided batched GEMM + rope.
  const int64_t kvb_head = static_cast<int64_t>(nope + vd) * lat;  // kv_b elements per head
  const cuda::QAbsorbParams qa{q_,
                               static_cast<int64_t>(nh) * qk,
                               qk,
                               L.kv_b_proj,  // W_UK[h] = kv_b rows [h (nope + v), + nope)
                               kvb_head,
                               q_abs_,
                               static_cast<int64_t>(nh) * width,
                               width,
                               DeviceStep<int32_t>(step_.positions),
                               model_->inv_freq(),
                               model_->attention_factor(),
                               T,
                               nh,
                               nope,
                               lat,
                               rd};
  const bool fused_absorb = cuda::QAbsorbSupported(qa);
  // [c | k_pe] -> normalised, rotated, bf16 into the cache slots. The cache append (reads kv_a_)
  // runs on the side stream alongside the query absorption (reads q_); MLA needs both. In a PDL
  // chain (1-2 tokens) it runs in the q absorb launch's own blocks instead (q_absorb.h; one
  // kernel boundary less), or as the chain's next kernel where that cannot take it: no event join
  // before the MLA split, which is then launched with PDL and copies the cache tiles that hold
  // none of this step's tokens before it waits (mla_decode.h, appended_tokens).
  const bool append_aside = kv_a_aside || !pdl_;
  const bool append_in_absorb = !append_aside && fused_absorb;
  if (!kv_a_aside && !append_in_absorb) {
    if (append_aside) SIEVE_RETURN_IF_ERROR(Fork());
    SIEVE_RETURN_IF_ERROR(
        Check(cuda::LaunchLatentAppend(la, append_aside ? aux_stream_ : stream_, !append_aside),
              "latent cache append"));
  }
  if (fused_absorb) {
    SIEVE_RETURN_IF_ERROR(
        Check(cuda::LaunchQAbsorb(qa, stream_, pdl_, append_in_absorb ? &la : nullptr),
              append_in_absorb ? "latent cache append + q absorb (W_UK) + q rope"
                               : "q absorb (W_UK) + q rope"));
  } else {
    SIEVE_RETURN_IF_ERROR(QAbsorbUnfused(L, T));  // the q rope on the side stream: joined below
  }

  const bool join = append_aside || !fused_absorb;
  if (join) SIEVE_RETURN_IF_ERROR(Join());
  // Attention over the paged cache: one query row per token, causal length position + 1.
  Mark("attn.mla");
  cuda::MlaDecodeParams md{q_abs_,
                           static_cast<int64_t>(nh) * width,
                           width,
                           cache_->layer(layer),
                           DeviceStep<int32_t>(step_.table),
                           max_pages_,
                           DeviceStep<int32_t>(step_.seq_lens),
                           o_lat_,
                           static_cast<int64_t>(nh) * lat,
                           lat,
                           nullptr,
                           T,
                           nh,
                           lat,
                           rd,
                           cache_->page_size(),
                           model_->softmax_scale(),
                           DeviceStep<int32_t>(step_.row_seq),
                           cuda::MlaDecodeSplits(T, nh,
                                                 static_cast<int64_t>(max_pages_) *
                                                     cache_->page_size(),
                                                 sm_count_),
                           mla_partial_,
                           mla_partial_lse_};
  // After a join the split kernel is launched plainly (pdl.cuh), the combine with PDL.
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchMlaDecode(md, stream_, pdl_, /*pdl_first=*/!join,
                                                    /*appended_tokens=*/join ? 0 : T),
                              "MLA attention"));

  // o[h] = W_UV[h] o_lat[h] -> bf16 [T, nh * v]; then o_proj -> y [T, H] fp32. Decode-sized
  // steps: one GEMV-like launch (value_up.h), else the strided batched GEMM.
  Mark("attn.out");
  const cuda::ValueUpParams vu{o_lat_,
                               static_cast<int64_t>(nh) * lat,
                               lat,
                               L.kv_b_proj + static_cast<int64_t>(nope) * lat,  // W_UV[0]
                               kvb_head,
                               o_,
                               static_cast<int64_t>(nh) * vd,
                               vd,
                               T,
                               nh,
                               lat,
                               vd};
  if (cuda::ValueUpSupported(vu)) {
    SIEVE_RETURN_IF_ERROR(
        Check(cuda::LaunchValueUp(vu, stream_, pdl_), "value up-projection (W_UV)"));
  } else {
    cuda::GemmParams g{};
    g.a = o_lat_;
    g.lda = static_cast<int64_t>(nh) * lat;
    g.stride_a = lat;
    g.w = L.kv_b_proj + static_cast<int64_t>(nope) * lat;  // W_UV[h]: stored [N = v, K = lat]
    g.ldw = lat;
    g.stride_w = kvb_head;
    g.weight_kn = false;
    g.c = o_;
    g.ldc = static_cast<int64_t>(nh) * vd;
    g.stride_c = vd;
    g.c_bf16 = true;
    g.m = T;
    g.n = vd;
    g.k = lat;
    g.batch = nh;
    g.alpha = 1.0f;
    g.beta = 0.0f;
    SIEVE_RETURN_IF_ERROR(RunGemm(g, "value up-projection (W_UV)"));
  }
  return Project(o_, T, nh * vd, {{L.o_proj, H, y_}}, "o_proj");
}

cuda::RopeParams GpuSession::QRope(int32_t T) const {
  const ModelConfig& c = model_->config();
  const int32_t nh = static_cast<int32_t>(c.num_attention_heads);
  const int64_t qk = c.qk_head_dim(), width = c.LatentCacheDim();
  return {q_ + c.qk_nope_head_dim,
          nh * qk,
          qk,
          q_abs_ + c.kv_lora_rank,
          nh * width,
          width,
          DeviceStep<int32_t>(step_.positions),
          model_->inv_freq(),
          model_->attention_factor(),
          T,
          nh,
          static_cast<int32_t>(c.qk_rope_head_dim)};
}

Status GpuSession::MhaPrefill(int64_t layer, int32_t T) {
  const ModelConfig& c = model_->config();
  const GpuLayerWeights& L = model_->weights().layers()[layer];
  const int32_t H = static_cast<int32_t>(c.hidden_size);
  const int32_t nh = static_cast<int32_t>(c.num_attention_heads);
  const int32_t qk = static_cast<int32_t>(c.qk_head_dim());
  const int32_t nope = static_cast<int32_t>(c.qk_nope_head_dim);
  const int32_t rd = static_cast<int32_t>(c.qk_rope_head_dim);
  const int32_t lat = static_cast<int32_t>(c.kv_lora_rank);
  const int32_t vd = static_cast<int32_t>(c.v_head_dim);
  const int32_t width = lat + rd;
  const int32_t kvw = nh * (nope + vd);
  const int32_t ctx = mha_first_position_ + T;
  // Scratch for the context: [ctx, width] latent rows, [ctx, kvw] keys / values (bf16), grown
  // in steps of 4096 tokens up to the session's MHA context bound (never inside a graph: decode
  // steps do not come here).
  if (ctx > mha_scratch_tokens_) {
    const int64_t tokens =
        std::max<int64_t>(ctx, std::min<int64_t>((ctx + 4095) / 4096 * 4096, mha_max_context_));
    SIEVE_RETURN_IF_ERROR(Check(cudaStreamSynchronize(stream_), "MHA prefill scratch"));
    SIEVE_RETURN_IF_ERROR(mha_scratch_.Allocate(
        static_cast<size_t>(tokens) * (width + kvw) * sizeof(__nv_bfloat16), "MHA prefill"));
    mha_scratch_tokens_ = tokens;
  }
  __nv_bfloat16* latent = mha_scratch_.at<__nv_bfloat16>(0);
  __nv_bfloat16* kv = latent + mha_scratch_tokens_ * width;
  // q_pe rotated into the tail of each q_abs head row (as the absorbed path does); the cache
  // append ran on the side stream (the chunk's own rows): joined before the gather.
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchRope(QRope(T), stream_), "q rope"));
  SIEVE_RETURN_IF_ERROR(Join());
  Mark("attn.mla");
  const cuda::LatentGatherParams lg{cache_->layer(layer), DeviceStep<int32_t>(step_.table),
                                    cache_->page_size(), width, ctx, latent};
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchLatentGather(lg, stream_), "latent gather"));
  cuda::GemmParams g{};  // [k_nope | v] per head = kv_b_proj(c) for every context token
  g.a = latent;
  g.lda = width;
  g.w = L.kv_b_proj;
  g.ldw = lat;
  g.c = kv;
  g.ldc = kvw;
  g.c_bf16 = true;
  g.m = ctx;
  g.n = kvw;
  g.k = lat;
  g.batch = 1;
  g.alpha = 1.0f;
  SIEVE_RETURN_IF_ERROR(RunGemm(g, "kv_b_proj (prefill keys and values)"));
  const cuda::MhaPrefillParams mp{q_,
                                  static_cast<int64_t>(nh) * qk,
                                  qk,
                                  q_abs_ + lat,
                                  static_cast<int64_t>(nh) * width,
                                  width,
                                  kv,
                                  kvw,
                                  nope + vd,
                                  latent + lat,
                                  width,
                                  o_,
                                  static_cast<int64_t>(nh) * vd,
                                  vd,
                                  T,
                                  nh,
                                  mha_first_position_,
                                  model_->softmax_scale()};
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchMhaPrefill(mp, stream_), "MHA prefill attention"));
  Mark("attn.out");
  return Project(o_, T, nh * vd, {{L.o_proj, H, y_}}, "o_proj");
}

Status GpuSession::QAbsorbUnfused(const GpuLayerWeights& L, int32_t T) {
  const ModelConfig& c = model_->config();
  const int32_t nh = static_cast<int32_t>(c.num_attention_heads);
  const int32_t qk = static_cast<int32_t>(c.qk_head_dim());
  const int32_t nope = static_cast<int32_t>(c.qk_nope_head_dim);
  const int32_t rd = static_cast<int32_t>(c.qk_rope_head_dim);
  const int32_t lat = static_cast<int32_t>(c.kv_lora_rank);
  const int32_t vd = static_cast<int32_t>(c.v_head_dim);
  const int32_t width = lat + rd;
  const int64_t kvb_head = static_cast<int64_t>(nope + vd) * lat;  // kv_b elements per head
  // q_pe rotated from q into the tail of each q_abs head row, on the side stream (after all of
  // the main stream's work so far: q is final) while the cast and W_UK write the other columns;
  // the caller joins.
  SIEVE_RETURN_IF_ERROR(Fork());
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchRope(QRope(T), aux_stream_), "q rope"));
  // q_nope -> bf16 [T * nh, nope]; q_lat[h] = W_UK[h]^T q_nope[h] into q_abs [T, nh, width].
  cuda::CastToBf16Params cast{q_, qk, q_nope_, nope, T * nh, nope};
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchCastToBf16(cast, stream_), "q_nope to bf16"));
  {
    cuda::GemmParams g{};
    g.a = q_nope_;
    g.lda = static_cast<int64_t>(nh) * nope;
    g.stride_a = nope;
    g.w = L.kv_b_proj;  // W_UK[h] = kv_b rows [h (nope + v), + nope): stored [K = nope, N = lat]
    g.ldw = lat;
    g.stride_w = kvb_head;
    g.weight_kn = true;
    g.c = q_abs_;
    g.ldc = static_cast<int64_t>(nh) * width;
    g.stride_c = width;
    g.c_bf16 = false;
    g.m = T;
    g.n = lat;
    g.k = nope;
    g.batch = nh;
    g.alpha = 1.0f;
    g.beta = 0.0f;
    SIEVE_RETURN_IF_ERROR(RunGemm(g, "q absorb (W_UK)"));
  }
  return Status::Ok();
}

cuda::GemvParams GpuSession::GateUpGemv(const GpuMlpWeights& m, const __nv_bfloat16* x,
                                        int32_t T, const cuda::GemvNorm* norm) const {
  const int32_t H = static_cast<int32_t>(model_->config().hidden_size);
  const int32_t I = static_cast<int32_t>(m.inter);
  cuda::GemvParams g{};
  g.x = x;
  g.ldx = H;
  g.rows = T;
  g.k = H;
  g.segments = 1;
  g.seg[0] = {m.gate_up, I, act_, I, true};
  g.silu_mul = true;
  if (norm) g.norm = *norm;
  return g;
}

Status GpuSession::Mlp(const GpuMlpWeights& m, const __nv_bfloat16* x, float* out, int32_t T,
                       const cuda::GemvNorm* norm, const std::function<Status()>& alongside) {
  const int32_t H = static_cast<int32_t>(model_->config().hidden_size);
  const int32_t I = static_cast<int32_t>(m.inter);
  // `alongside` (the MoE routing) is enqueued on the side stream as soon as x is final and runs
  // concurrently with the rest of this MLP; the main stream waits for it at the end.
  auto fork = [&]() -> Status {
    if (!alongside) return Status::Ok();
    SIEVE_RETURN_IF_ERROR(Fork());
    return alongside();
  };
  auto join = [&]() { return alongside ? Join() : Status::Ok(); };
  if (T <= cuda::kGemvDecoderMaxRows) {
    // act = silu(gate) * up straight from the GEMV (no fp32 [T, 2I] round trip, no SiluMul).
    const cuda::GemvParams g = GateUpGemv(m, x, T, norm);
    if (cuda::GemvSupported(g)) {
      SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchGemv(g, stream_, pdl_), "gate_up_proj + silu * up"));
      SIEVE_RETURN_IF_ERROR(fork());  // x written by the GEMV's norm
      SIEVE_RETURN_IF_ERROR(Project(act_, T, I, {{m.down, H, out}}, "down_proj"));  // [T, H]
      return join();
    }
  }
  if (norm) SIEVE_RETURN_IF_ERROR(NormFallback(*norm, const_cast<__nv_bfloat16*>(x), T, H));
  SIEVE_RETURN_IF_ERROR(fork());
  SIEVE_RETURN_IF_ERROR(Gemm(x, m.gate_up, gate_up_, T, 2 * I, H, "gate_up_proj"));  // [T, 2I]
  cuda::SiluMulParams sm{gate_up_, 2 * I, act_, I, T, I};
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchSiluMul(sm, stream_), "silu * up"));
  SIEVE_RETURN_IF_ERROR(Gemm(act_, m.down, out, T, H, I, "down_proj"));  // [T, H]
  return join();
}

Status GpuSession::Fork() {
  SIEVE_RETURN_IF_ERROR(Check(cudaEventRecord(fork_, stream_), "fork side stream"));
  return Check(cudaStreamWaitEvent(aux_stream_, fork_, 0), "fork side stream");
}

Status GpuSession::Join() {
  SIEVE_RETURN_IF_ERROR(Check(cudaEventRecord(join_, aux_stream_), "join side stream"));
  return Check(cudaStreamWaitEvent(stream_, join_, 0), "join side stream");
}

Status GpuSession::Route(const GpuLayerWeights& L, int32_t T, cudaStream_t stream) {
  const cuda::MoeRouteFusedParams fused = FusedRouteParams(L, T, nullptr);
  if (cuda::MoeRouteFusedSupported(fused)) {  // decode-sized steps: one launch, same bits
    return Check(cuda::LaunchMoeRouteFused(fused, stream), "MoE routing (fused)");
  }
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchRouterLogits(fused.logits, stream), "router logits"));
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchMoeRouting(fused.routing, stream), "MoE routing"));
  return Check(cuda::LaunchMoeAlign(fused.align, stream), "MoE align");
}

cuda::MoeRouteFusedParams GpuSession::FusedRouteParams(const GpuLayerWeights& L, int32_t T,
                                                       const cuda::GemvNorm* norm) {
  const ModelConfig& c = model_->config();
  const RoutingParams& r = model_->routing();
  const int32_t H = static_cast<int32_t>(c.hidden_size);
  const int32_t E = static_cast<int32_t>(c.n_routed_experts);
  const int32_t k = static_cast<int32_t>(c.num_experts_per_tok);
  cuda::RouterLogitsParams rl{x_, H, L.router, router_logits_, E, T, E, H};
  const bool grouped = r.method == TopkMethod::kGroupLimitedGreedy && r.n_group > 1;
  cuda::MoeRoutingParams mr{router_logits_,
                            E,
                            T,
                            E,
                            k,
                            grouped ? static_cast<int32_t>(r.n_group) : 1,
                            grouped ? static_cast<int32_t>(r.topk_group) : 1,
                            r.norm_topk_prob,
                            static_cast<float>(r.routed_scaling_factor),
                            topk_ids_,
                            topk_weights_};
  cuda::MoeAlignParams ma{topk_ids_, T * k, E, expert_offsets_, sorted_pairs_, sorted_experts_};
  cuda::MoeRouteNorm rn{};
  if (norm) rn = {norm->weight, norm->h, norm->delta, norm->eps};
  return {rl, mr, ma, route_counter_, rn};
}

Status GpuSession::Moe(const GpuLayerWeights& L, int32_t T, const cuda::GemvNorm* norm) {
  // 1-2 tokens: the routing inside the shared gate_up GEMV's launch, the shared down_proj beside
  // the routed experts (MoeSharedAside), where the kernels take the shapes.
  if (T <= cuda::kGemvDecoderMaxRows && L.has_shared && norm) {
    bool done = false;
    SIEVE_RETURN_IF_ERROR(MoeSharedAside(L, T, *norm, &done));
    if (done) return Status::Ok();
  }
  const cuda::MoeRouteFusedParams early =
      L.has_shared && norm ? FusedRouteParams(L, T, norm) : cuda::MoeRouteFusedParams{};
  // Routing and the shared experts both only read x_ (the shared experts' GEMV writes it when
  // it carries the post-attention norm): routing runs on the side stream alongside them.
  // Where the GEMV carries the norm, the routing kernel normalises h + delta itself (the same
  // bits, fused_routing.h) and forks right after the attention's o_proj instead of after that
  // GEMV: it then runs beside the whole shared MLP (issue 7: it was ~10 us per layer on the
  // critical path). No race: the GEMV writes h + delta into the other h buffer and x_, which
  // this routing does not read, and y_ (delta) is rewritten only after the join.
  if (L.has_shared && norm && cuda::MoeRouteFusedSupported(early)) {
    Mark("moe.shared+route");
    SIEVE_RETURN_IF_ERROR(Fork());
    SIEVE_RETURN_IF_ERROR(
        Check(cuda::LaunchMoeRouteFused(early, aux_stream_), "MoE routing (fused, own norm)"));
    SIEVE_RETURN_IF_ERROR(Mlp(L.shared, x_, shared_out_, T, norm, {}));
    SIEVE_RETURN_IF_ERROR(Join());
  } else if (L.has_shared) {
    Mark("moe.shared+route");
    SIEVE_RETURN_IF_ERROR(
        Mlp(L.shared, x_, shared_out_, T, norm, [&] { return Route(L, T, aux_stream_); }));
  } else {
    Mark("moe.route");
    SIEVE_RETURN_IF_ERROR(Route(L, T, stream_));  // (no fused norm without shared experts)
  }
  return RoutedExperts(L, T, L.has_shared ? shared_out_ : nullptr, /*pdl_first=*/!L.has_shared);
}

Status GpuSession::MoeSharedAside(const GpuLayerWeights& L, int32_t T, const cuda::GemvNorm& norm,
                                  bool* done) {
  const int32_t H = static_cast<int32_t>(model_->config().hidden_size);
  const int32_t I = static_cast<int32_t>(L.shared.inter);
  // act = silu(gate) * up of x = RMSNorm(h + delta), x written
  const cuda::GemvParams gate_up = GateUpGemv(L.shared, x_, T, &norm);
  const cuda::MoeRouteFusedParams route = FusedRouteParams(L, T, nullptr);
  cuda::GemvParams down{};  // h_out += down_proj(act): the norm's h + delta is the new h
  down.x = act_;
  down.ldx = I;
  down.rows = T;
  down.k = I;
  down.segments = 1;
  down.seg[0] = {L.shared.down, H, norm.h_out, H, false, /*accumulate=*/true};
  *done = norm.x_out && norm.h_out && cuda::GemvRoutedSupported(gate_up, route) &&
          cuda::GemvSupported(down);
  if (!*done) return Status::Ok();
  Mark("moe.shared+route");
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchGemvRouted(gate_up, route, stream_, pdl_),
                              "shared gate_up_proj + silu * up + MoE routing"));
  shared_aside_ = true;
  ++shared_aside_layers_;
  if (T == 1) {
    // One token: the shared down_proj forks after the routed gate/up launch, so it streams beside
    // the down + combine kernel (whose reads leave bandwidth over) instead of taking SM room and
    // bandwidth from gate/up: -0.03 ms per V2-Lite step at batch 1; at batch 2 (twice the
    // routed bytes in gate/up) +0.03, so two tokens fork it right after the routing.
    SIEVE_RETURN_IF_ERROR(RoutedExperts(L, T, nullptr, /*pdl_first=*/true, fork_));
    SIEVE_RETURN_IF_ERROR(Check(cudaStreamWaitEvent(aux_stream_, fork_, 0), "fork side stream"));
    return Check(cuda::LaunchGemv(down, aux_stream_),
                 "shared down_proj (into the residual stream)");
  }
  SIEVE_RETURN_IF_ERROR(Fork());
  SIEVE_RETURN_IF_ERROR(
      Check(cuda::LaunchGemv(down, aux_stream_), "shared down_proj (into the residual stream)"));
  return RoutedExperts(L, T, nullptr, /*pdl_first=*/true);
}

Status GpuSession::RoutedExperts(const GpuLayerWeights& L, int32_t T, const float* shared_out,
                                 bool pdl_first, cudaEvent_t gate_up_done) {
  const ModelConfig& c = model_->config();
  const int32_t H = static_cast<int32_t>(c.hidden_size);
  const int32_t E = static_cast<int32_t>(c.n_routed_experts);
  const int32_t k = static_cast<int32_t>(c.num_experts_per_tok);
  Mark("moe.experts");
  cuda::ExpertFfnParams ef{x_,
                           H,
                           L.experts_w13,
                           L.experts_w2,
                           sorted_pairs_,
                           sorted_experts_,
                           topk_weights_,
                           expert_act_,
                           pair_out_,
                           shared_out,
                           H,
                           y_,
                           H,
                           false,
                           T,
                           k,
                           E,
                           H,
                           static_cast<int32_t>(c.moe_intermediate_size),
                           expert_offsets_,
                           0};  // kernels chosen by ExpertFfnUsesTensorCores
  // After the routing's join (shared experts on the side stream) the gate/up kernel is a plain
  // launch (pdl.cuh); after a routing on the main stream, `pdl_first`. Chained with PDL (batch
  // 1-2), the down kernel also does the combine (expert_ffn.h: same bits, one kernel boundary
  // less per layer); launches without PDL keep the three kernels.
  return Check(
      cuda::LaunchExpertFfn(ef, stream_, pdl_, pdl_first, /*fuse_combine=*/pdl_, gate_up_done),
      "routed experts");
}

}  // namespace sieve
