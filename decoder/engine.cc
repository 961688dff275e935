// Engine: see engine.h.
#include "decoder/engine.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <utility>

#include "grammar/ebnf_parser.h"
#include "grammar/grammar_cache.h"
#include "grammar/matcher.h"
#include "grammar/regex_parser.h"
#include "grammar/structural_tag_tokens.h"
#include "grammar/thread_pool.h"

namespace sieve {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kRunning:
      return "running";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kGrammarEnd:
      return "grammar_end";
    case FinishReason::kStopString:
      return "stop_string";
    case FinishReason::kMaxTokens:
      return "max_tokens";
    case FinishReason::kMaxLength:
      return "max_length";
    case FinishReason::kError:
      return "error";
  }
  return "?";
}

struct Engine::Request {
  int64_t id = -1;
  GenerationRequest req;
  std::vector<int32_t> prompt;
  std::shared_ptr<const TokenMaskCache> grammar;  // null: unconstrained
  std::unique_ptr<GrammarMatcher> matcher;
  std::shared_ptr<const TokenBindings> bindings;  // the grammar's token references, or null
  std::vector<int32_t> stop_ids;  // the vocabulary's and the request's
  int64_t seq = -1;
  int64_t length = 0;            // tokens in the backend sequence
  std::vector<int32_t> pending;  // next step's input
  int32_t unaccepted = -1;       // sampled last step, not yet in the matcher
  int32_t last_token = -1;       // last token of the sequence
  GenerationResult result;
  size_t streamed = 0;
  size_t holdback = 0;
  size_t stop_scanned = 0;
  Clock::time_point start, first;
  bool have_first = false;
  bool done = false;
  bool IsStop(int32_t t) const {
    return std::find(stop_ids.begin(), stop_ids.end(), t) != stop_ids.end();
  }
  // Token t into the matcher: a referenced token through its sentinel (structural_tag_tokens.h).
  bool Accept(int32_t t) {
    return bindings ? bindings->AcceptToken(matcher.get(), t) : matcher->AcceptToken(t);
  }
  // The jump-forward string, cut before a referenced token (a token, not text, comes next).
  std::string JumpForward() const {
    std::string s = matcher->FindJumpForwardString();
    if (bindings) TokenBindings::TrimJumpForward(&s);
    return s;
  }
};

Engine::~Engine() = default;

JsonSchemaOptions Engine::DefaultJsonOptions() {
  JsonSchemaOptions o;
  o.whitespace = JsonWhitespace::kCompact;
  return o;
}

Result<std::unique_ptr<Engine>> Engine::Create(std::shared_ptr<const EngineModel> model,
                                               std::unique_ptr<EngineBackend> backend,
                                               const EngineOptions& options) {
  if (!model || !backend) return InvalidArgument("Engine::Create needs a model and a backend");
  if (backend->vocab_size() != model->config().vocab_size) {
    return InvalidArgument("backend vocab " + std::to_string(backend->vocab_size()) +
                           " != model vocab " + std::to_string(model->config().vocab_size));
  }
  std::unique_ptr<Engine> e(new Engine());
  e->model_ = std::move(model);
  e->backend_ = std::move(backend);
  int threads = options.mask_threads;
  if (threads <= 0) {
    threads = std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 4);
  }
  e->pool_ = std::make_unique<ThreadPool>(threads);
  e->parallel_min_rows_ = std::max(1, options.parallel_mask_min_rows);
  e->jf_max_batch_ = options.jump_forward_max_batch > 0 ? options.jump_forward_max_batch
                     : e->backend_->mixed_steps()       ? INT32_MAX
                                                        : 1;
  e->cache_ = std::make_unique<GrammarCache>(options.grammar_cache_bytes, e->pool_.get());
  const Vocabulary& v = *e->model_->vocab();
  e->mask_words_ = static_cast<int32_t>((v.size() + 31) / 32);
  e->base_mask_.assign(e->mask_words_, 0u);
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v.IsPadding(static_cast<int32_t>(i))) e->base_mask_[i >> 5] |= 1u << (i & 31);
  }
  return e;
}

Result<int64_t> Engine::Submit(GenerationRequest request) {
  SIEVE_RETURN_IF_ERROR(ValidateSamplingParams(request.sampling));
  if (request.max_tokens <= 0) {
    return InvalidArgument("max_tokens must be > 0, got " + std::to_string(request.max_tokens));
  }
  const Vocabulary& v = *model_->vocab();
  for (int32_t t : request.stop_tokens) {
    if (t < 0 || static_cast<size_t>(t) >= v.size() || v.IsPadding(t)) {
      return InvalidArgument("stop token " + std::to_string(t) + " is not a token of the model");
    }
  }
  for (const std::string& s : request.stop_strings) {
    if (s.empty()) return InvalidArgument("stop strings must not be empty");
  }
  auto r = std::make_unique<Request>();
  if (!request.messages.empty()) {
    SIEVE_ASSIGN_OR_RETURN(r->prompt, model_->EncodeChat(request.messages));
  } else {
    r->prompt = model_->EncodePrompt(request.prompt);
  }
  if (r->prompt.empty()) return InvalidArgument("the prompt is empty (and the model has no bos)");
  if (static_cast<int64_t>(r->prompt.size()) >= backend_->max_seq_len()) {
    return LimitError("the prompt has " + std::to_string(r->prompt.size()) +
                      " tokens; the session holds " + std::to_string(backend_->max_seq_len()) +
                      " (max_seq_len)");
  }
  const Structure& s = request.structure;
  GrammarCacheOptions copts;
  switch (s.kind) {
    case StructureKind::kNone:
      break;
    case StructureKind::kJsonSchema: {
      SIEVE_ASSIGN_OR_RETURN(JsonSchemaGrammar g, JsonSchemaToGrammar(s.text, s.json));
      SIEVE_ASSIGN_OR_RETURN(r->grammar, cache_->GetOrCompile(g.grammar, model_->vocab(), copts));
      break;
    }
    case StructureKind::kGrammar: {
      // Parsed here (the cache is keyed by the IR) so that token references are bound.
      EbnfOptions eo = copts.ebnf;
      eo.root = s.root;
      std::vector<EbnfTokenRef> refs;
      eo.tokens = &refs;
      SIEVE_ASSIGN_OR_RETURN(Grammar g, ParseEbnf(s.text, eo));
      SIEVE_ASSIGN_OR_RETURN(std::vector<TokenBinding> bound, BindTokenRefs(refs, v, s.text));
      if (!bound.empty()) r->bindings = std::make_shared<const TokenBindings>(std::move(bound), v);
      SIEVE_ASSIGN_OR_RETURN(r->grammar, cache_->GetOrCompile(g, model_->vocab(), copts));
      break;
    }
    case StructureKind::kRegex: {
      SIEVE_ASSIGN_OR_RETURN(Grammar g, RegexToGrammar(s.text));
      SIEVE_ASSIGN_OR_RETURN(r->grammar, cache_->GetOrCompile(g, model_->vocab(), copts));
      break;
    }
  }
  if (!request.ignore_stop_tokens) r->stop_ids = v.stop_tokens();
  for (int32_t t : request.stop_tokens) {
    if (!r->IsStop(t)) r->stop_ids.push_back(t);
  }
  if (r->grammar) {
    MatcherOptions mo;
    if (!request.stop_tokens.empty() || request.ignore_stop_tokens) mo.stop_token_ids = r->stop_ids;
    r->matcher = std::make_unique<GrammarMatcher>(r->grammar, mo);
  }
  for (const std::string& stop : request.stop_strings) {
    r->holdback = std::max(r->holdback, stop.size() - 1);
  }
  r->id = next_id_++;
  r->result.id = r->id;
  r->result.prompt_tokens = static_cast<int32_t>(r->prompt.size());
  r->req = std::move(request);
  const int64_t id = r->id;
  waiting_.push_back(std::move(r));
  return id;
}

void Engine::Emit(Request* r, bool done) {
  if (!callback_) return;
  const std::string& t = r->result.text;
  size_t end = done ? t.size() : (t.size() > r->holdback ? t.size() - r->holdback : 0);
  end = std::max(end, r->streamed);
  if (end > r->streamed || done) {
    callback_(r->id, std::string_view(t).substr(r->streamed, end - r->streamed), done);
    r->streamed = end;
  }
}

void Engine::Finish(Request* r, FinishReason reason) {
  if (r->done) return;
  r->done = true;
  r->result.finish = reason;
  r->result.total_ms = Ms(r->start, Clock::now());
  if (r->have_first) r->result.first_token_ms = Ms(r->start, r->first);
  Emit(r, true);
}

void Engine::AppendToken(Request* r, int32_t token, bool forced) {
  GenerationResult& res = r->result;
  res.tokens.push_back(token);
  (forced ? res.forced_tokens : res.sampled_tokens)++;
  if (!r->have_first) {
    r->have_first = true;
    r->first = Clock::now();
  }
  if (!forced && r->IsStop(token)) {
    if (r->matcher) {
      res.complete = r->Accept(token) && r->matcher->IsTerminated();
    } else {
      res.complete = true;
    }
    Finish(r, FinishReason::kStop);
    return;
  }
  res.text += model_->vocab()->TokenBytes(token);
  if (!forced) {
    if (r->matcher) r->unaccepted = token;
    r->pending = {token};
  }
}

bool Engine::CheckStops(Request* r) {
  if (r->done) return true;
  GenerationResult& res = r->result;
  if (!r->req.stop_strings.empty()) {
    const size_t from = r->stop_scanned > r->holdback ? r->stop_scanned - r->holdback : 0;
    size_t cut = std::string::npos;
    for (const std::string& s : r->req.stop_strings) cut = std::min(cut, res.text.find(s, from));
    r->stop_scanned = res.text.size();
    if (cut != std::string::npos) {
      res.text.resize(cut);
      if (r->grammar && r->bindings) {
        // Whole tokens up to the cut (a referenced token is its sentinel, not its text), then
        // the cut token's leading bytes as text.
        GrammarMatcher fresh(r->grammar);
        bool ok = true;
        size_t at = 0;
        for (size_t i = 0; ok && i < res.tokens.size() && at < cut; ++i) {
          const std::string_view b = model_->vocab()->TokenBytes(res.tokens[i]);
          ok = at + b.size() <= cut ? r->bindings->AcceptToken(&fresh, res.tokens[i])
                                    : fresh.AcceptString(b.substr(0, cut - at));
          at += b.size();
        }
        res.complete = ok && fresh.CanTerminate();
      } else if (r->grammar) {
        GrammarMatcher fresh(r->grammar);
        res.complete = fresh.AcceptString(res.text) && fresh.CanTerminate();
      } else {
        res.complete = true;
      }
      Finish(r, FinishReason::kStopString);
      return true;
    }
  }
  if (static_cast<int32_t>(res.tokens.size()) >= r->req.max_tokens) {
    if (r->matcher) {
      if (r->unaccepted >= 0) r->Accept(r->unaccepted);
      r->unaccepted = -1;
      res.complete = r->matcher->CanTerminate();
    }
    Finish(r, FinishReason::kMaxTokens);
    return true;
  }
  return false;
}

std::vector<int32_t> Engine::ForcedTokens(const Request& r, const std::string& forced) const {
  const Vocabulary& v = *model_->vocab();
  std::string lead;
  if (r.last_token >= 0 && !v.IsSpecial(r.last_token)) lead = v.TokenBytes(r.last_token);
  const std::vector<int32_t> e = model_->tokenizer().Encode(lead + forced, false);
  size_t acc = 0, i = 0;
  while (i < e.size() && acc < lead.size()) acc += v.TokenBytes(e[i++]).size();
  if (acc != lead.size()) return {};  // the last token merges with the forced text
  std::vector<int32_t> f(e.begin() + static_cast<std::ptrdiff_t>(i), e.end());
  std::string check;
  for (int32_t t : f) {
    if (v.IsSpecial(t) || v.IsPadding(t)) return {};
    check += v.TokenBytes(t);
  }
  if (check != forced || f.size() <= 1) return {};
  f.pop_back();  // may merge with what follows
  return f;
}

Result<bool> Engine::Step() {
  const auto t0 = Clock::now();
  while (!waiting_.empty() && static_cast<int32_t>(active_.size()) < backend_->max_batch()) {
    std::unique_ptr<Request> r = std::move(waiting_.front());
    waiting_.pop_front();
    r->start = t0;
    Result<int64_t> seq = backend_->AddSequence();
    if (!seq.ok()) {
      r->result.error = seq.status();
      Finish(r.get(), FinishReason::kError);
      finished_.push_back(std::move(r->result));
      continue;
    }
    r->seq = *seq;
    r->pending = r->prompt;
    m_prompt_ += static_cast<int64_t>(r->prompt.size());
    active_.push_back(std::move(r));
  }
  auto sweep = [&] {
    for (auto& r : active_) {
      if (!r->done) continue;
      if (r->seq >= 0) backend_->RemoveSequence(r->seq);
      r->seq = -1;
      const GenerationResult& res = r->result;
      ++m_requests_;
      m_output_ += static_cast<int64_t>(res.tokens.size());
      m_forced_ += res.forced_tokens;
      m_saved_ += res.steps_saved;
      if (res.tokens.size() >= 2 && r->have_first) {
        m_tpot_sum_ +=
            (res.total_ms - res.first_token_ms) / static_cast<double>(res.tokens.size() - 1);
        ++m_tpot_n_;
      }
      finished_.push_back(std::move(r->result));
    }
    std::erase_if(active_, [](const std::unique_ptr<Request>& r) { return r->done; });
  };
  for (auto& r : active_) {
    if (r->length + static_cast<int64_t>(r->pending.size()) > backend_->max_seq_len()) {
      if (r->matcher && r->unaccepted >= 0) r->Accept(r->unaccepted);
      r->unaccepted = -1;
      r->result.complete = r->matcher ? r->matcher->CanTerminate() : false;
      Finish(r.get(), FinishReason::kMaxLength);
    }
  }
  sweep();
  if (active_.empty()) {
    m_seconds_ += Ms(t0, Clock::now()) / 1000;
    return !waiting_.empty();
  }
  std::vector<StepInput> inputs(active_.size());
  for (size_t i = 0; i < active_.size(); ++i) {
    inputs[i].seq = active_[i]->seq;
    inputs[i].tokens = std::move(active_[i]->pending);
    active_[i]->pending.clear();
  }
  auto fail_all = [&](const Status& st) {
    for (auto& r : active_) {
      r->result.error = st;
      Finish(r.get(), FinishReason::kError);
    }
    sweep();
  };
  if (Status st = backend_->LaunchForward(inputs); !st.ok()) {
    fail_all(st);
    return st;
  }
  for (size_t i = 0; i < active_.size(); ++i) {
    active_[i]->length += static_cast<int64_t>(inputs[i].tokens.size());
    active_[i]->last_token = inputs[i].tokens.back();
  }

  // ---- CPU work overlapped with the forward pass ----
  const auto mask_start = Clock::now();
  const bool jf_allowed = static_cast<int64_t>(active_.size()) <= jf_max_batch_;
  std::vector<size_t> constrained, free_rows;  // indices into active_
  for (size_t i = 0; i < active_.size(); ++i) {
    Request* r = active_[i].get();
    if (!r->matcher) {
      free_rows.push_back(i);
      continue;
    }
    if (r->unaccepted >= 0) {
      const int32_t t = r->unaccepted;
      r->unaccepted = -1;
      if (!r->Accept(t)) {
        r->result.error = InternalError("the matcher rejected sampled token " + std::to_string(t) +
                                        " that its own mask allowed");
        Finish(r, FinishReason::kError);
        continue;
      }
    }
    if (r->matcher->NextBytes().none()) {
      // Nothing but a stop token can follow: the structure is complete.
      r->result.complete = r->matcher->CanTerminate();
      Finish(r, r->result.complete ? FinishReason::kGrammarEnd : FinishReason::kError);
      if (!r->result.complete) r->result.error = InternalError("the grammar admits nothing more");
      continue;
    }
    if (r->req.jump_forward && !jf_allowed) {
      if (!r->JumpForward().empty()) ++m_deferred_;
    } else if (r->req.jump_forward) {
      const std::string s = r->JumpForward();
      std::vector<int32_t> f = s.empty() ? std::vector<int32_t>() : ForcedTokens(*r, s);
      const size_t room = static_cast<size_t>(r->req.max_tokens) - r->result.tokens.size();
      if (f.size() > room) f.resize(room);
      size_t accepted = 0;
      while (accepted < f.size() && r->Accept(f[accepted])) ++accepted;
      if (accepted < f.size()) {
        r->matcher->Rollback(static_cast<int>(accepted));
        f.clear();
      }
      if (!f.empty()) {
        for (int32_t t : f) AppendToken(r, t, /*forced=*/true);
        r->pending = f;
        r->result.steps_saved += static_cast<int32_t>(f.size()) - 1;
        if (!CheckStops(r)) Emit(r, false);
        continue;
      }
    }
    constrained.push_back(i);
  }
  const int32_t rows = static_cast<int32_t>(constrained.size() + free_rows.size());
  uint32_t* masks = backend_->MaskRows(rows, mask_words_);
  if (masks == nullptr && rows > 0) {
    const Status st = InternalError("the backend has no room for " + std::to_string(rows) +
                                    " mask rows of " + std::to_string(mask_words_) + " words");
    backend_->Sample({}, nullptr);  // finish the launched step
    fail_all(st);
    return st;
  }
  std::vector<GrammarMatcher*> matchers;
  for (size_t i : constrained) matchers.push_back(active_[i]->matcher.get());
  GrammarMatcher::FillNextTokenBitmaskBatch(
      std::span<GrammarMatcher* const>(matchers), masks, static_cast<size_t>(mask_words_),
      static_cast<int32_t>(matchers.size()) >= parallel_min_rows_ ? pool_.get() : nullptr);
  for (size_t k = 0; k < constrained.size(); ++k) {
    const Request* r = active_[constrained[k]].get();
    if (r->bindings) r->bindings->FixMask(*r->matcher, masks + k * mask_words_, mask_words_);
  }
  for (size_t k = 0; k < free_rows.size(); ++k) {
    std::memcpy(masks + (constrained.size() + k) * mask_words_, base_mask_.data(),
                sizeof(uint32_t) * mask_words_);
  }
  std::vector<SampleRow> sample_rows;
  std::vector<size_t> row_req;
  for (const auto* list : {&constrained, &free_rows}) {
    for (size_t i : *list) {
      const Request* r = active_[i].get();
      sample_rows.push_back({static_cast<int32_t>(i), r->req.sampling,
                             static_cast<uint64_t>(r->result.tokens.size())});
      row_req.push_back(i);
    }
  }
  const double mask_ms = Ms(mask_start, Clock::now());

  StepTiming timing;
  Result<std::vector<int32_t>> tokens = backend_->Sample(sample_rows, &timing);
  if (!tokens.ok()) {
    fail_all(tokens.status());
    return tokens.status();
  }
  for (size_t k = 0; k < row_req.size(); ++k) {
    Request* r = active_[row_req[k]].get();
    const int32_t t = (*tokens)[k];
    if (t < 0) {
      r->result.error = InternalError("no token is allowed: the mask row is empty");
      Finish(r, FinishReason::kError);
      continue;
    }
    AppendToken(r, t, /*forced=*/false);
    if (!CheckStops(r)) Emit(r, false);
  }
  sweep();
  ++m_steps_;
  m_mask_us_.push_back(mask_ms * 1000);
  m_mask_ms_ += mask_ms;
  m_hidden_ms_ += std::min(mask_ms, timing.forward_ms);
  m_forward_ms_.push_back(timing.forward_ms);
  const double step_ms = Ms(t0, Clock::now());
  m_step_ms_.push_back(step_ms);
  m_seconds_ += step_ms / 1000;
  return !active_.empty() || !waiting_.empty();
}

Status Engine::RunToCompletion() {
  while (true) {
    Result<bool> more = Step();
    if (!more.ok()) return more.status();
    if (!*more) return Status::Ok();
  }
}

std::vector<GenerationResult> Engine::TakeFinished() {
  std::vector<GenerationResult> out(std::make_move_iterator(finished_.begin()),
                                    std::make_move_iterator(finished_.end()));
  finished_.clear();
  return out;
}

bool Engine::TakeNext(GenerationResult* out) {
  if (finished_.empty()) return false;
  *out = std::move(finished_.front());
  finished_.pop_front();
  return true;
}

size_t Engine::running() const { return active_.size(); }

EngineMetrics Engine::metrics() const {
  EngineMetrics m;
  m.requests = m_requests_;
  m.steps = m_steps_;
  m.output_tokens = m_output_;
  m.prompt_tokens = m_prompt_;
  m.forced_tokens = m_forced_;
  m.steps_saved = m_saved_;
  m.jump_forward_deferred = m_deferred_;
  m.seconds = m_seconds_;
  m.tokens_per_second = m_seconds_ > 0 ? static_cast<double>(m_output_) / m_seconds_ : 0;
  m.time_per_output_token_ms = m_tpot_n_ > 0 ? m_tpot_sum_ / static_cast<double>(m_tpot_n_) : 0;
  m.step_ms_p50 = Percentile(m_step_ms_, 0.5);
  m.mask_us_p50 = Percentile(m_mask_us_, 0.5);
  m.mask_us_p99 = Percentile(m_mask_us_, 0.99);
  m.mask_hidden_fraction = m_mask_ms_ > 0 ? m_hidden_ms_ / m_mask_ms_ : 1.0;
  m.forward_ms_p50 = Percentile(m_forward_ms_, 0.5);
  return m;
}

void Engine::ResetMetrics() {
  m_requests_ = m_steps_ = m_output_ = m_prompt_ = m_forced_ = m_saved_ = m_deferred_ = 0;
  m_seconds_ = m_tpot_sum_ = m_hidden_ms_ = m_mask_ms_ = 0;
  m_tpot_n_ = 0;
  m_mask_us_.clear();
  m_step_ms_.clear();
  m_forward_ms_.clear();
}

}  // namespace sieve
