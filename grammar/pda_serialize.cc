// The automaton in a grammar image (image_io.h, grammar_serialize.h): CompiledGrammar's tables as
// integer arrays, read back with a handful of memcpys instead of rebuilding every rule's DFA.
//
// Layout: counts and arrays in member order (flags, state -> rule, byte-edge offsets and edges as
// three parallel arrays lo/hi/target, call-edge offsets and edges as three arrays, dense-row index
// and rows, rules, FIRST/FOLLOW bit sets), then the scalars and the statistics.
//
// Validation on read is structural and complete for memory safety: every offset array is monotone
// and ends at its table's size, every state id (edge target, dense-row entry, return state, rule
// start, root) is a state of the same rule's block, every rule id is in range, call edges enter
// their callee at its start, byte edges are sorted and disjoint (Step relies on it), and the flags
// agree with the edges. What only affects which strings are matched (accepting flags, FIRST/FOLLOW
// supersets, nullable flags) cannot be checked without recompiling: a hostile image with a
// resealed checksum can give wrong masks, but the stepper's depth and closure limits bound every
// closure, so it can neither read out of bounds nor hang.
#include <algorithm>
#include <string>

#include "grammar/image_io.h"
#include "grammar/pda.h"

namespace sieve {
namespace {

// Per-record minimum byte counts for Count() checks.
constexpr size_t kRuleMinBytes = 4 + 4 * 4 + 1 + 2 * 4;

Status CheckOffsets(const std::vector<uint32_t>& begin, size_t states, size_t table,
                    const char* what, const ImageReader& r) {
  if (begin.size() != states + 1 || begin[0] != 0 || begin.back() != table) {
    return r.Fail(std::string(what) + " offsets do not match the state count");
  }
  for (size_t s = 0; s < states; ++s) {
    if (begin[s] > begin[s + 1]) return r.Fail(std::string(what) + " offsets are not monotone");
  }
  return Status();
}

}  // namespace

void WriteCompiledGrammar(const CompiledGrammar& g, ImageWriter* w) {
  w->Array(g.flags_);
  w->Array(g.state_rule_);
  w->Array(g.byte_begin_);
  std::vector<uint8_t> lo, hi;
  std::vector<int32_t> target;
  for (const CompiledGrammar::ByteEdge& e : g.byte_edges_) {
    lo.push_back(e.lo);
    hi.push_back(e.hi);
    target.push_back(e.target);
  }
  w->Array(lo);
  w->Array(hi);
  w->Array(target);
  w->Array(g.call_begin_);
  std::vector<int32_t> callee, start, ret;
  for (const CompiledGrammar::CallEdge& e : g.call_edges_) {
    callee.push_back(e.callee);
    start.push_back(e.callee_start);
    ret.push_back(e.return_state);
  }
  w->Array(callee);
  w->Array(start);
  w->Array(ret);
  w->Array(g.dense_row_);
  w->Array(g.dense_);
  w->U64(g.rules_.size());
  for (const CompiledGrammar::RuleInfo& r : g.rules_) {
    w->Str(r.name);
    w->I32(r.start);
    w->I32(r.first_state);
    w->I32(r.num_states);
    w->U8(
        static_cast<uint8_t>((r.synthesized ? 1 : 0) | (r.counted ? 2 : 0) | (r.nullable ? 4 : 0) |
                             (r.unique_items != kUniqueNone ? 8 : 0) |
                             (r.unique_items == kUniqueKeysLive ? 16 : 0)));
    w->I32(r.min);
    w->I32(r.max);
  }
  w->Array(g.first_bytes_);
  w->Array(g.follow_bytes_);
  w->I32(g.max_closure_pushes_);
  w->I32(g.root_rule_);
  w->I32(g.root_start_);
  const GrammarStats& s = g.stats_;
  for (int32_t v : {s.grammar_rules, s.synthesized_rules, s.counted_rules, s.live_rules}) w->I32(v);
  for (int64_t v : {s.nfa_states, s.dfa_states, s.states, s.byte_edges, s.call_edges, s.dense_rows})
    w->I64(v);
  w->U64(s.memory_bytes);
  w->F64(s.compile_ms);
}

Result<std::shared_ptr<const CompiledGrammar>> ReadCompiledGrammar(ImageReader* r) {
  std::shared_ptr<CompiledGrammar> g(new CompiledGrammar());
  SIEVE_RETURN_IF_ERROR(r->Array(&g->flags_, "automaton flags"));
  SIEVE_RETURN_IF_ERROR(r->Array(&g->state_rule_, "automaton state rules"));
  const size_t n = g->flags_.size();
  if (n == 0 || n > static_cast<size_t>(INT32_MAX) || g->state_rule_.size() != n) {
    return r->Fail("automaton: bad state count");
  }
  SIEVE_RETURN_IF_ERROR(r->Array(&g->byte_begin_, "byte-edge offsets"));
  std::vector<uint8_t> lo, hi;
  std::vector<int32_t> target;
  SIEVE_RETURN_IF_ERROR(r->Array(&lo, "byte edges"));
  SIEVE_RETURN_IF_ERROR(r->Array(&hi, "byte edges"));
  SIEVE_RETURN_IF_ERROR(r->Array(&target, "byte edges"));
  if (hi.size() != lo.size() || target.size() != lo.size())
    return r->Fail("byte edge arrays differ");
  SIEVE_RETURN_IF_ERROR(CheckOffsets(g->byte_begin_, n, lo.size(), "byte-edge", *r));
  SIEVE_RETURN_IF_ERROR(r->Array(&g->call_begin_, "call-edge offsets"));
  std::vector<int32_t> callee, start, ret;
  SIEVE_RETURN_IF_ERROR(r->Array(&callee, "call edges"));
  SIEVE_RETURN_IF_ERROR(r->Array(&start, "call edges"));
  SIEVE_RETURN_IF_ERROR(r->Array(&ret, "call edges"));
  if (start.size() != callee.size() || ret.size() != callee.size()) {
    return r->Fail("call edge arrays differ");
  }
  SIEVE_RETURN_IF_ERROR(CheckOffsets(g->call_begin_, n, callee.size(), "call-edge", *r));
  SIEVE_RETURN_IF_ERROR(r->Array(&g->dense_row_, "dense-row index"));
  SIEVE_RETURN_IF_ERROR(r->Array(&g->dense_, "dense rows"));
  if (g->dense_row_.size() != n || g->dense_.size() % 256 != 0) {
    return r->Fail("automaton: bad dense-row tables");
  }
  SIEVE_ASSIGN_OR_RETURN(uint64_t num_rules, r->Count(kRuleMinBytes, "automaton rules"));
  if (num_rules == 0 || num_rules > static_cast<uint64_t>(INT32_MAX)) {
    return r->Fail("automaton: bad rule count");
  }
  const size_t nr = static_cast<size_t>(num_rules);
  g->rules_.resize(nr);
  for (CompiledGrammar::RuleInfo& ri : g->rules_) {
    SIEVE_ASSIGN_OR_RETURN(ri.name, r->Str());
    SIEVE_ASSIGN_OR_RETURN(ri.start, r->I32());
    SIEVE_ASSIGN_OR_RETURN(ri.first_state, r->I32());
    SIEVE_ASSIGN_OR_RETURN(ri.num_states, r->I32());
    SIEVE_ASSIGN_OR_RETURN(uint8_t bits, r->U8());
    SIEVE_ASSIGN_OR_RETURN(ri.min, r->I32());
    SIEVE_ASSIGN_OR_RETURN(ri.max, r->I32());
    if (bits > 31 || (bits & 24) == 16) return r->Fail("automaton: bad rule flags");
    ri.synthesized = bits & 1;
    ri.counted = bits & 2;
    ri.nullable = bits & 4;
    ri.unique_items = (bits & 16) ? kUniqueKeysLive : (bits & 8) ? kUniqueCheck : kUniqueNone;
    if (ri.start != kNoState) {
      const int64_t first = ri.first_state, end = first + ri.num_states;
      if (ri.first_state < 0 || ri.num_states <= 0 || end > static_cast<int64_t>(n) ||
          ri.start < first || ri.start >= end) {
        return r->Fail("automaton: rule '" + ri.name + "' has a bad state block");
      }
    }
    if (ri.min < 0 || (ri.max != kUnbounded && ri.max < ri.min)) {
      return r->Fail("automaton: rule '" + ri.name + "' has bad repetition bounds");
    }
  }
  SIEVE_RETURN_IF_ERROR(r->Array(&g->first_bytes_, "FIRST sets"));
  SIEVE_RETURN_IF_ERROR(r->Array(&g->follow_bytes_, "FOLLOW sets"));
  if (g->first_bytes_.size() != nr * 4 || g->follow_bytes_.size() != nr * 4) {
    return r->Fail("automaton: FIRST/FOLLOW sets do not match the rule count");
  }
  SIEVE_ASSIGN_OR_RETURN(g->max_closure_pushes_, r->I32());
  SIEVE_ASSIGN_OR_RETURN(g->root_rule_, r->I32());
  SIEVE_ASSIGN_OR_RETURN(g->root_start_, r->I32());
  if (g->max_closure_pushes_ < 1 || static_cast<uint64_t>(g->max_closure_pushes_) > nr + 1) {
    return r->Fail("automaton: bad closure bound");
  }
  if (g->root_rule_ < 0 || static_cast<size_t>(g->root_rule_) >= nr || g->root_start_ == kNoState ||
      g->root_start_ != g->rules_[g->root_rule_].start) {
    return r->Fail("automaton: bad root");
  }
  GrammarStats& s = g->stats_;
  for (int32_t* v : {&s.grammar_rules, &s.synthesized_rules, &s.counted_rules, &s.live_rules}) {
    SIEVE_ASSIGN_OR_RETURN(*v, r->I32());
  }
  for (int64_t* v :
       {&s.nfa_states, &s.dfa_states, &s.states, &s.byte_edges, &s.call_edges, &s.dense_rows}) {
    SIEVE_ASSIGN_OR_RETURN(*v, r->I64());
  }
  SIEVE_ASSIGN_OR_RETURN(uint64_t mem, r->U64());
  s.memory_bytes = static_cast<size_t>(mem);
  SIEVE_ASSIGN_OR_RETURN(s.compile_ms, r->F64());

  // States: each belongs to a laid-out rule's block, and every id it names stays in that block.
  const auto in_block = [&](RuleId rule, int32_t x) {
    const CompiledGrammar::RuleInfo& ri = g->rules_[rule];
    return x >= ri.first_state && x < ri.first_state + ri.num_states;
  };
  const size_t dense_rows = g->dense_.size() / 256;
  g->byte_edges_.resize(lo.size());
  g->call_edges_.resize(callee.size());
  for (size_t st = 0; st < n; ++st) {
    const int32_t s = static_cast<int32_t>(st);
    const RuleId rule = g->state_rule_[st];
    if (rule < 0 || static_cast<size_t>(rule) >= nr || g->rules_[rule].start == kNoState ||
        !in_block(rule, s)) {
      return r->Fail("automaton: state " + std::to_string(s) + " is outside its rule's block");
    }
    const uint8_t f = g->flags_[st];
    if (f >= (CompiledGrammar::kPlain << 1)) return r->Fail("automaton: bad state flags");
    const uint32_t b0 = g->byte_begin_[st], b1 = g->byte_begin_[st + 1];
    int prev_hi = -1;
    for (uint32_t i = b0; i < b1; ++i) {
      if (lo[i] > hi[i] || static_cast<int>(lo[i]) <= prev_hi || !in_block(rule, target[i])) {
        return r->Fail("automaton: bad byte edge at state " + std::to_string(s));
      }
      prev_hi = hi[i];
      g->byte_edges_[i] = {lo[i], hi[i], target[i]};
    }
    const uint32_t c0 = g->call_begin_[st], c1 = g->call_begin_[st + 1];
    for (uint32_t i = c0; i < c1; ++i) {
      if (callee[i] < 0 || static_cast<size_t>(callee[i]) >= nr || start[i] == kNoState ||
          start[i] != g->rules_[callee[i]].start || !in_block(rule, ret[i])) {
        return r->Fail("automaton: bad call edge at state " + std::to_string(s));
      }
      g->call_edges_[i] = {callee[i], start[i], ret[i]};
    }
    if (((f & CompiledGrammar::kHasBytes) != 0) != (b1 > b0) ||
        ((f & CompiledGrammar::kHasCalls) != 0) != (c1 > c0)) {
      return r->Fail("automaton: flags of state " + std::to_string(s) + " disagree with its edges");
    }
    const int32_t row = g->dense_row_[st];
    if (row != -1) {
      if (row < 0 || static_cast<size_t>(row) >= dense_rows) {
        return r->Fail("automaton: bad dense row at state " + std::to_string(s));
      }
      const int32_t* d = g->dense_.data() + static_cast<size_t>(row) * 256;
      for (int b = 0; b < 256; ++b) {
        if (d[b] != kNoState && !in_block(rule, d[b])) {
          return r->Fail("automaton: bad dense row at state " + std::to_string(s));
        }
      }
    }
  }
  return std::shared_ptr<const CompiledGrammar>(std::move(g));
}

}  // namespace sieve
