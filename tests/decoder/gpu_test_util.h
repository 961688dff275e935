// Shared pieces of the GPU decoder tests: device detection, the model folders every test compares
// on (fp32 and bf16-rounded copies of one checkpoint), and the position-by-position comparison of
// GPU logits with the two CPU references.
//
// The two references (decoder/cpu_model.h), both on the same checkpoint:
//   * fp32: the CPU model proven against transformers (rel err <= 2e-6). The GPU must be within
//     kFp32Tolerance (2e-2) of it at every position where bf16 arithmetic can be, which the
//     emulated reference below measures: where even a faithful bf16 emulation on the CPU lands
//     further than kConditioning (1e-2) from fp32, the position is ill-conditioned (a routing
//     decision or a logit that bf16 rounding moves by itself) and is reported, not asserted.
//   * emulated: the CPU model on bf16-rounded weights with emulate_bf16_activations, i.e. the GPU's
//     own rounding points. GPU and emulation differ by fp32 summation order, which now and then
//     moves a value across a bf16 rounding boundary (one element one ulp apart); the model's
//     conditioning amplifies that. Measured on the H100 (deterministic run to run): positions of
//     the well-conditioned models stay under 3.1e-3; seven positions of the two scale-16 MoE
//     models reach 1.1e-2 to 2.5e-2, at 0.2x to 1.5x the emulation's own distance from fp32
//     there (cond). So the GPU must be within kEmulatedTolerance (1e-2) of the emulation, or
//     within 2 cond: two bf16 evaluations that are each about cond from fp32 can be up to
//     2 cond apart (triangle inequality), and no further. The median over a sequence's
//     positions must stay under kEmulatedTolerance (a systematic error moves every position).
//     Beyond that, only a routing near tie is excused: a
//     position whose own token had a routing margin under kRoutingTieMargin (an expert choice that
//     summation noise can flip), and positions after such a flip in the same sequence (also after
//     a near-tie position that stayed within 2 cond but beyond kEmulatedTolerance: later
//     positions read its cache entries). Excused
//     positions are printed, never silently passed.
// Every comparison prints one "[gpu-vs-cpu]" line with the worst errors, for the run log, and a
// "[gpu-vs-cpu detail]" line for each position it excused.
#ifndef SIEVE_TESTS_DECODER_GPU_TEST_UTIL_H_
#define SIEVE_TESTS_DECODER_GPU_TEST_UTIL_H_

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "decoder/cpu_model.h"
#include "tests/testing/model_folder.h"

namespace sieve::testing {

inline constexpr double kFp32Tolerance = 2e-2;
inline constexpr double kConditioning = 1e-2;
inline constexpr double kEmulatedTolerance = 1e-2;
inline constexpr float kRoutingTieMargin = 1e-3f;

inline bool HaveDevice() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

inline double RelError(const float* got, const float* want, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    num += d * d;
    den += static_cast<double>(want[i]) * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline double RmsDiff(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += (static_cast<double>(a[i]) - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / std::max<int64_t>(n, 1));
}

inline std::vector<int32_t> PromptTokens(int n, int64_t vocab, int salt) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 37 + salt * 101 + 5) % vocab);
  return t;
}

// Writes `src`'s tensors, rounded to bf16, as a new model folder `dst`.
inline Status WriteBf16Copy(const std::string& src, const std::string& dst) {
  SIEVE_ASSIGN_OR_RETURN(TensorMap t, ReadAllTensors(src));
  for (auto& [name, tensor] : t) tensor.dtype = DType::kBF16;
  return WriteModelFolder(dst, src, t);
}

struct Comparison {
  double worst_emulated = 0;  // over asserted positions
  double median_emulated = 0;
  double worst_fp32 = 0;      // over well-conditioned positions
  double worst_fp32_all = 0;  // over every position (report)
  int positions = 0;
  int ill_conditioned = 0;  // positions where bf16 itself moves the logits by > kConditioning
  int bf16_noise = 0;       // of those, positions where GPU vs emulation exceeded 1e-2
  int routing_ties = 0;
};

// Compares `rows` rows of GPU logits with both references, position by position (rows of one
// sequence, in order). `margins` are the emulated reference's per-token routing margins.
inline void ComparePositions(const std::string& what, const float* gpu, const float* emulated,
                             const float* fp32, const std::vector<float>& margins, int64_t rows,
                             int64_t vocab, Comparison* c) {
  bool flipped = false;
  std::vector<double> errors;
  for (int64_t j = 0; j < rows; ++j) {
    const float* g = gpu + j * vocab;
    const float* e = emulated + j * vocab;
    const float* f = fp32 + j * vocab;
    const double err_e = RelError(g, e, vocab);
    const double err_f = RelError(g, f, vocab);
    const double cond = RelError(e, f, vocab);
    ++c->positions;
    c->worst_fp32_all = std::max(c->worst_fp32_all, err_f);
    const float margin = j < static_cast<int64_t>(margins.size()) ? margins[j] : INFINITY;
    errors.push_back(err_e);
    if (err_e > std::max(kEmulatedTolerance, 2 * cond)) {
      if (margin < kRoutingTieMargin || flipped) {
        flipped = true;
        ++c->routing_ties;
        std::printf(
            "[gpu-vs-cpu detail] %s position %lld: routing near tie (margin %.3g): rel err %.3g "
            "vs emulated, %.3g vs fp32 (reported, not asserted)\n",
            what.c_str(), static_cast<long long>(j), margin, err_e, err_f);
        continue;
      }
      ADD_FAILURE() << what << " position " << j << ": rel err " << err_e
                    << " vs the bf16-emulating CPU reference, over max(" << kEmulatedTolerance
                    << ", 2 x emulation vs fp32 " << cond << ") (routing margin " << margin << ")";
      continue;
    }
    c->worst_emulated = std::max(c->worst_emulated, err_e);
    if (err_e > kEmulatedTolerance) {
      ++c->bf16_noise;
      // A near-tie position this far from the emulation has likely flipped an expert: later
      // positions attend to its changed cache entries, so they are excused like after a flip.
      if (margin < kRoutingTieMargin) flipped = true;
      std::printf(
          "[gpu-vs-cpu detail] %s position %lld: %.3g vs emulated, within 2x bf16's own "
          "%.3g from fp32 there (routing margin %.3g)\n",
          what.c_str(), static_cast<long long>(j), err_e, cond, margin);
    }
    if (cond > kConditioning) {
      ++c->ill_conditioned;
      if (err_f > kFp32Tolerance) {
        std::printf(
            "[gpu-vs-cpu detail] %s position %lld: ill-conditioned in bf16 (emulation is %.3g "
            "from fp32): GPU %.3g from fp32 (reported, not asserted)\n",
            what.c_str(), static_cast<long long>(j), cond, err_f);
      }
      continue;
    }
    c->worst_fp32 = std::max(c->worst_fp32, err_f);
    EXPECT_LE(err_f, kFp32Tolerance)
        << what << " position " << j << " (emulation " << cond << " from fp32)";
  }
  if (!errors.empty()) {
    std::sort(errors.begin(), errors.end());
    c->median_emulated = errors[errors.size() / 2];
    EXPECT_LE(c->median_emulated, kEmulatedTolerance)
        << what << ": median rel err vs the bf16-emulating reference";
  }
}

inline void PrintComparison(const std::string& what, const Comparison& c) {
  std::printf(
      "[gpu-vs-cpu] %-42s pos %3d  vs-emulated max %.1e med %.1e  vs-fp32 %.1e (all "
      "%.1e)  ill-cond %d (noise %d)  ties %d\n",
      what.c_str(), c.positions, c.worst_emulated, c.median_emulated, c.worst_fp32,
      c.worst_fp32_all, c.ill_conditioned, c.bf16_noise, c.routing_ties);
}

}  // namespace sieve::testing

#endif  // SIEVE_TESTS_DECODER_GPU_TEST_UTIL_H_
