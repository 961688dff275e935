// uniqueItems at run time (see unique_items.h): the JSON lexer that fingerprints items, and the
// stack bookkeeping that finds flagged arrays and drops the readings that repeat an item.
#include "grammar/unique_items.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <random>

namespace sieve {
namespace {

// ---- fingerprints: polynomial hashes modulo the Mersenne prime 2^61 - 1 ----

constexpr uint64_t kPrime = (uint64_t{1} << 61) - 1;

uint64_t MulMod(uint64_t a, uint64_t b) {
  const unsigned __int128 m = static_cast<unsigned __int128>(a) * b;
  uint64_t r = static_cast<uint64_t>(m >> 61) + (static_cast<uint64_t>(m) & kPrime);
  return r >= kPrime ? r - kPrime : r;
}

uint64_t AddMod(uint64_t a, uint64_t b) {
  const uint64_t r = a + b;
  return r >= kPrime ? r - kPrime : r;
}

struct Keys {
  uint64_t seq_a, seq_b;  // bases of ordered sequences (bytes of a string, items of an array)
  uint64_t mem_a, mem_b;  // offsets of an object member's (key, value) product
  ValueHash string, number, array, object, literal[3];
};

const Keys& K() {
  static const Keys keys = [] {
    std::random_device rd;
    uint64_t x = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    auto next = [&x] {  // splitmix64, reduced into [2^32, kPrime)
      x += 0x9e3779b97f4a7c15ull;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      return (uint64_t{1} << 32) + z % (kPrime - (uint64_t{1} << 32));
    };
    Keys k;
    k.seq_a = next();
    k.seq_b = next();
    k.mem_a = next();
    k.mem_b = next();
    for (ValueHash* h : {&k.string, &k.number, &k.array, &k.object, &k.literal[0], &k.literal[1],
                         &k.literal[2]}) {
      h->a = next();
      h->b = next();
    }
    return k;
  }();
  return keys;
}

void PushByte(ValueHash* h, uint8_t b) {
  const Keys& k = K();
  h->a = AddMod(MulMod(h->a, k.seq_a), b + 1u);
  h->b = AddMod(MulMod(h->b, k.seq_b), b + 1u);
}

void PushValue(ValueHash* h, const ValueHash& v) {
  const Keys& k = K();
  h->a = AddMod(MulMod(h->a, k.seq_a), v.a);
  h->b = AddMod(MulMod(h->b, k.seq_b), v.b);
}

// A member's contribution to its object's sum. Not linear in (key, value): with a linear form,
// {"a":1,"b":2} and {"a":2,"b":1} would sum alike.
ValueHash Member(const ValueHash& key, const ValueHash& value) {
  const Keys& k = K();
  return {MulMod(AddMod(key.a, k.mem_a), AddMod(MulMod(value.a, k.seq_a), k.mem_b)),
          MulMod(AddMod(key.b, k.mem_b), AddMod(MulMod(value.b, k.seq_b), k.mem_a))};
}

// ---- numbers: one canonical text per value ----

// Decimal digit strings (most significant first) plus / minus a small amount; SubSmall needs
// digits >= x.
std::string AddSmall(std::string d, uint64_t x) {
  unsigned __int128 carry = x;
  for (int64_t i = static_cast<int64_t>(d.size()) - 1; carry > 0; --i) {
    if (i < 0) {
      d.insert(d.begin(), '0');
      i = 0;
    }
    carry += static_cast<unsigned>(d[i] - '0');
    d[i] = static_cast<char>('0' + static_cast<int>(carry % 10));
    carry /= 10;
  }
  return d;
}

std::string SubSmall(std::string d, uint64_t x) {
  for (int64_t i = static_cast<int64_t>(d.size()) - 1; x > 0 && i >= 0; --i) {
    const uint64_t digit = static_cast<uint64_t>(d[i] - '0'), sub = x % 10;
    x /= 10;
    if (digit >= sub) {
      d[i] = static_cast<char>('0' + (digit - sub));
    } else {
      d[i] = static_cast<char>('0' + (digit + 10 - sub));
      ++x;
    }
  }
  const size_t nz = d.find_first_not_of('0');
  return nz == std::string::npos ? "0" : d.substr(nz);
}

// -?D.F e±X  ->  [-]M e E with M the significant digits (no leading/trailing zeros) and E the
// exponent of M's last digit; zero is "0" whatever its sign or exponent.
std::string CanonicalNumber(std::string_view t) {
  size_t i = 0;
  const bool negative = i < t.size() && t[i] == '-';
  if (negative || (i < t.size() && t[i] == '+')) ++i;
  std::string digits;
  uint64_t fraction = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') digits.push_back(t[i++]);
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, ++fraction) digits.push_back(t[i]);
  }
  bool exp_negative = false;
  std::string exp;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) exp_negative = t[i++] == '-';
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') exp.push_back(t[i++]);
  }
  std::string out(t.substr(i));  // anything unexpected stays part of the identity
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return "0" + out;
  digits.erase(0, first);
  uint64_t trailing = 0;
  while (digits.back() == '0') {
    digits.pop_back();
    ++trailing;
  }
  // exponent = (exp_negative ? -exp : exp) + trailing - fraction
  const size_t nz = exp.find_first_not_of('0');
  exp = nz == std::string::npos ? "0" : exp.substr(nz);
  bool neg = exp_negative && exp != "0";
  if (trailing >= fraction) {
    const uint64_t up = trailing - fraction;  // add up: toward +infinity
    if (!neg) {
      exp = AddSmall(exp, up);
    } else if (exp.size() > 19 || std::stoull(exp) > up) {
      exp = SubSmall(exp, up);
    } else {
      exp = std::to_string(up - std::stoull(exp));
      neg = false;
    }
  } else {
    const uint64_t down = fraction - trailing;
    if (neg) {
      exp = AddSmall(exp, down);
    } else if (exp.size() > 19 || std::stoull(exp) >= down) {
      exp = SubSmall(exp, down);
    } else {
      exp = std::to_string(down - std::stoull(exp));
      neg = true;
    }
  }
  if (exp == "0") neg = false;
  return (negative ? "-" : "") + digits + "e" + (neg ? "-" : "") + exp + out;
}

ValueHash HashText(ValueHash h, std::string_view text) {
  for (const char c : text) PushByte(&h, static_cast<uint8_t>(c));
  return h;
}

constexpr std::string_view kLiterals[3] = {"true", "false", "null"};

bool IsSpace(uint8_t b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }

int Hex(uint8_t b) {
  if (b >= '0' && b <= '9') return b - '0';
  if (b >= 'a' && b <= 'f') return b - 'a' + 10;
  if (b >= 'A' && b <= 'F') return b - 'A' + 10;
  return -1;
}

// A decoded byte of the string being read; a key's bytes are also kept as text (the liveness
// check compares prefixes).
void StrByte(UniqueState* s, uint8_t b) {
  PushByte(&s->str, b);
  if (!s->frames.empty() && s->frames.back().key_string) s->text.push_back(static_cast<char>(b));
}

void PushCodepoint(UniqueState* s, uint32_t cp) {  // UTF-8 (surrogates as 3 bytes, like WTF-8)
  if (cp < 0x80) {
    StrByte(s, static_cast<uint8_t>(cp));
  } else if (cp < 0x800) {
    StrByte(s, static_cast<uint8_t>(0xC0 | (cp >> 6)));
    StrByte(s, static_cast<uint8_t>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    StrByte(s, static_cast<uint8_t>(0xE0 | (cp >> 12)));
    StrByte(s, static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F)));
    StrByte(s, static_cast<uint8_t>(0x80 | (cp & 0x3F)));
  } else {
    StrByte(s, static_cast<uint8_t>(0xF0 | (cp >> 18)));
    StrByte(s, static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F)));
    StrByte(s, static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F)));
    StrByte(s, static_cast<uint8_t>(0x80 | (cp & 0x3F)));
  }
}

void FlushHigh(UniqueState* s) {
  if (s->high_surrogate != 0) {
    PushCodepoint(s, s->high_surrogate);
    s->high_surrogate = 0;
  }
}

void EscapedCodepoint(UniqueState* s, uint32_t cp) {
  if (s->high_surrogate != 0 && cp >= 0xDC00 && cp <= 0xDFFF) {
    PushCodepoint(s, 0x10000 + ((s->high_surrogate - 0xD800) << 10) + (cp - 0xDC00));
    s->high_surrogate = 0;
    return;
  }
  FlushHigh(s);
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    s->high_surrogate = cp;
  } else {
    PushCodepoint(s, cp);
  }
}

UniqueState::Frame NewFrame(bool object) {
  UniqueState::Frame f{};
  f.object = object;
  f.phase = object ? UniqueState::kKeyOrEnd : UniqueState::kValueOrEnd;
  f.tracked = -1;
  f.acc = object ? K().object : K().array;
  return f;
}

// An item of a flagged container ended (an array's item, an object's key): a repeat is an event,
// else the item is stored.
void RecordItem(UniqueState* s, int32_t tracked, const ValueHash& v, bool commit, LexEvents* ev) {
  UniqueState::Tracked& t = s->arrays[tracked];
  const bool dup = (t.record != nullptr && t.record->store.Contains(t.count, v)) ||
                   std::find(t.pending.begin(), t.pending.end(), v) != t.pending.end();
  // A live-checked object's keys are kept as text too (KeyPrefixAtRisk).
  std::string text = t.live || t.record == nullptr ? s->text : std::string();
  if (dup) {
    ev->any_dup = true;
    if (t.record != nullptr && ev->num_dups < 2) ev->dups[ev->num_dups++] = t.record;
  } else if (commit && t.record != nullptr && t.pending.empty()) {
    t.record->store.Put(t.count++, v, std::move(text));
  } else {
    t.pending.push_back(v);
    t.pending_texts.push_back(std::move(text));
  }
}

void CompleteValue(UniqueState* s, const ValueHash& v, bool commit, LexEvents* ev) {
  UniqueState::Frame& f = s->frames.back();
  if (f.object) {
    if (f.key_string) {
      f.key = v;
      f.key_string = false;
      f.phase = UniqueState::kColon;
      if (f.tracked >= 0) RecordItem(s, f.tracked, v, commit, ev);
      return;
    }
    const ValueHash m = Member(f.key, v);
    f.acc = {AddMod(f.acc.a, m.a), AddMod(f.acc.b, m.b)};
  } else {
    PushValue(&f.acc, v);
    if (f.tracked >= 0) RecordItem(s, f.tracked, v, commit, ev);
  }
  ++f.count;
  f.phase = UniqueState::kCommaOrEnd;
}

void CloseFrame(UniqueState* s, bool commit, LexEvents* ev) {
  const UniqueState::Frame f = s->frames.back();
  s->frames.pop_back();
  ValueHash v = f.acc;
  if (!f.object) PushByte(&v, static_cast<uint8_t>(f.count & 0xFF));
  if (f.tracked >= 0) s->arrays.resize(static_cast<size_t>(f.tracked));
  if (s->frames.empty()) {
    s->Clear();
    return;
  }
  CompleteValue(s, v, commit, ev);
}

void StartValue(UniqueState* s, uint8_t b, LexEvents* ev) {
  switch (b) {
    case '"':
      s->scalar = UniqueState::kString;
      s->str = K().string;
      s->high_surrogate = 0;
      return;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      s->scalar = UniqueState::kNumber;
      s->number.assign(1, static_cast<char>(b));
      return;
    case 't':
    case 'f':
    case 'n':
      s->scalar = UniqueState::kLiteral;
      s->literal = b == 't' ? 0 : b == 'f' ? 1 : 2;
      s->literal_pos = 1;
      return;
    case '[':
    case '{':
      s->frames.push_back(NewFrame(b == '{'));
      ev->opened = true;
      ev->too_deep = s->frames.size() > kMaxUniqueNesting;
      return;
    default:
      ev->error = true;
  }
}

// The string a token ends when read inside a string body (see UniqueTokenClasses).
UniqueTokenClasses::StringEnd StringEndOf(std::string_view t) {
  const Keys& k = K();
  UniqueTokenClasses::StringEnd e;
  ValueHash pre, pow{1, 1};
  for (size_t i = 0; i < t.size(); ++i) {
    auto b = static_cast<uint8_t>(t[i]);
    if (b == '"') {
      e.ok = true;
      e.rest_quiet = true;
      for (size_t j = i + 1; j < t.size(); ++j) {
        const auto r = static_cast<uint8_t>(t[j]);
        e.rest_quiet &= IsSpace(r) || r == ',' || r == ':';
      }
      e.pre = pre;
      e.pow = pow;
      return e;
    }
    if (b == '\\') {
      if (++i == t.size()) return e;
      switch (t[i]) {
        case '"':
        case '\\':
        case '/':
          b = static_cast<uint8_t>(t[i]);
          break;
        case 'b':
          b = '\b';
          break;
        case 'f':
          b = '\f';
          break;
        case 'n':
          b = '\n';
          break;
        case 'r':
          b = '\r';
          break;
        case 't':
          b = '\t';
          break;
        default:
          return e;  // \u (surrogates) or not JSON: lexed instead
      }
    }
    PushByte(&pre, b);
    pow = {MulMod(pow.a, k.seq_a), MulMod(pow.b, k.seq_b)};
    ++e.len;
  }
  return e;
}

}  // namespace

// ---- ItemStore ----

bool ItemStore::Contains(uint32_t count, const ValueHash& h) const {
  if (slots_.empty()) return false;
  const size_t mask = slots_.size() - 1;
  for (size_t i = h.a & mask;; i = (i + 1) & mask) {
    const uint32_t s = slots_[i];
    if (s == 0) return false;
    if (s - 1 < count && s - 1 < items_.size() && items_[s - 1] == h) return true;
  }
}

void ItemStore::Put(uint32_t index, const ValueHash& h, std::string text) {
  if (items_.size() <= index) items_.resize(size_t{index} + 1);
  items_[index] = h;
  // Rollback only rewrites positions at or past a state's count, so prefix_[index] stays valid.
  if (prefix_.size() < size_t{index} + 2) prefix_.resize(size_t{index} + 2, 0);
  prefix_[index + 1] = prefix_[index] * 0x9e3779b97f4a7c15ull + h.a + 1;
  if (!text.empty() || index < texts_.size()) {
    if (texts_.size() <= index) texts_.resize(size_t{index} + 1);
    texts_[index] = std::move(text);
  }
  if (2 * (used_ + 1) > slots_.size()) {
    Rebuild(std::max<size_t>(16, 4 * items_.size()));  // also drops stale entries
    return;
  }
  const size_t mask = slots_.size() - 1;
  size_t i = h.a & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = index + 1;
  ++used_;
}

void ItemStore::Rebuild(size_t capacity) {
  size_t cap = 16;
  while (cap < capacity) cap *= 2;
  slots_.assign(cap, 0);
  used_ = 0;
  for (size_t k = 0; k < items_.size(); ++k) {
    size_t i = items_[k].a & (cap - 1);
    while (slots_[i] != 0) i = (i + 1) & (cap - 1);
    slots_[i] = static_cast<uint32_t>(k + 1);
    ++used_;
  }
}

// ---- ArrayRecord ----

ArrayRecord::ArrayRecord(std::vector<NodeId> c, StackPool* p) : callers(std::move(c)), pool(p) {
  if (pool == nullptr) return;
  for (const NodeId id : callers) pool->Ref(id);
}

ArrayRecord::~ArrayRecord() {
  if (pool == nullptr) return;
  for (const NodeId id : callers) {
    if (id != kNoNode) pool->Unref(id);
  }
}

// ---- the lexer ----

void UniqueState::Clear() {
  frames.clear();
  arrays.clear();
  text.clear();
  scalar = kNone;
  high_surrogate = 0;
  number.clear();
}

void LexByte(UniqueState* s, uint8_t b, bool commit, LexEvents* ev) {
  if (s->idle()) {
    if (b == '[' || b == '{') {
      s->frames.push_back(NewFrame(b == '{'));
      ev->opened = true;
    }
    return;
  }
  switch (s->scalar) {
    case UniqueState::kString:
      if (b == '"') {
        FlushHigh(s);
        s->scalar = UniqueState::kNone;
        CompleteValue(s, s->str, commit, ev);
      } else if (b == '\\') {
        s->scalar = UniqueState::kEscape;
      } else {
        FlushHigh(s);
        StrByte(s, b);
      }
      return;
    case UniqueState::kEscape: {
      uint8_t c;
      switch (b) {
        case '"':
        case '\\':
        case '/':
          c = b;
          break;
        case 'b':
          c = '\b';
          break;
        case 'f':
          c = '\f';
          break;
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        case 'u':
          s->scalar = UniqueState::kUnicode;
          s->unicode = 0;
          s->unicode_digits = 0;
          return;
        default:
          ev->error = true;
          return;
      }
      FlushHigh(s);
      StrByte(s, c);
      s->scalar = UniqueState::kString;
      return;
    }
    case UniqueState::kUnicode: {
      const int h = Hex(b);
      if (h < 0) {
        ev->error = true;
        return;
      }
      s->unicode = s->unicode * 16 + static_cast<uint32_t>(h);
      if (++s->unicode_digits == 4) {
        EscapedCodepoint(s, s->unicode);
        s->scalar = UniqueState::kString;
      }
      return;
    }
    case UniqueState::kNumber:
      if ((b >= '0' && b <= '9') || b == '.' || b == 'e' || b == 'E' || b == '+' || b == '-') {
        s->number.push_back(static_cast<char>(b));
        return;
      }
      s->scalar = UniqueState::kNone;
      CompleteValue(s, HashText(K().number, CanonicalNumber(s->number)), commit, ev);
      s->number.clear();
      break;  // b is read below, after the number
    case UniqueState::kLiteral: {
      const std::string_view lit = kLiterals[s->literal];
      if (b != static_cast<uint8_t>(lit[s->literal_pos])) {
        ev->error = true;
        return;
      }
      if (++s->literal_pos == lit.size()) {
        s->scalar = UniqueState::kNone;
        CompleteValue(s, K().literal[s->literal], commit, ev);
      }
      return;
    }
    default:
      break;
  }
  if (IsSpace(b)) return;
  UniqueState::Frame& f = s->frames.back();
  switch (f.phase) {
    case UniqueState::kValueOrEnd:
      if (b == ']') {
        CloseFrame(s, commit, ev);
        return;
      }
      [[fallthrough]];
    case UniqueState::kValue:
      StartValue(s, b, ev);
      return;
    case UniqueState::kCommaOrEnd:
      if (b == ',') {
        f.phase = f.object ? UniqueState::kKey : UniqueState::kValue;
      } else if (b == (f.object ? '}' : ']')) {
        CloseFrame(s, commit, ev);
      } else {
        ev->error = true;
      }
      return;
    case UniqueState::kKeyOrEnd:
      if (b == '}') {
        CloseFrame(s, commit, ev);
        return;
      }
      [[fallthrough]];
    case UniqueState::kKey:
      if (b == '"') {
        f.key_string = true;
        s->scalar = UniqueState::kString;
        s->str = K().string;
        s->text.clear();
        s->high_surrogate = 0;
      } else {
        ev->error = true;
      }
      return;
    case UniqueState::kColon:
      if (b == ':') {
        f.phase = UniqueState::kValue;
      } else {
        ev->error = true;
      }
      return;
    default:
      ev->error = true;
  }
}

// ---- the checker ----

bool UniqueItemsChecker::HasCaller(const PdaStepper& stepper, const Stack& s,
                                   const std::vector<NodeId>& callers, uint32_t min_depth) const {
  // A flagged frame whose caller is P sits at depth depth(P) + 1: below the shallowest such
  // depth there is nothing to find (and a deep stack is not walked to the bottom).
  if (Flagged(s.state) && std::binary_search(callers.begin(), callers.end(), s.parent)) return true;
  for (NodeId id = s.parent; id != kNoNode;) {
    const StackNode& n = stepper.node(id);
    if (n.depth < min_depth) break;
    if (Flagged(n.state) && std::binary_search(callers.begin(), callers.end(), n.parent)) {
      return true;
    }
    id = n.parent;
  }
  return false;
}

void UniqueItemsChecker::Prune(StackPool* pool, const std::vector<NodeId>& callers,
                               const PdaStepper& stepper, StackSet* set) const {
  uint32_t min_depth = UINT32_MAX;  // of the flagged frames: their callers' depth + 1
  for (const NodeId c : callers) {
    min_depth = std::min(min_depth, (c == kNoNode ? 0 : stepper.node(c).depth) + 1);
  }
  size_t kept = 0;
  for (const Stack& s : set->stacks) {
    if (HasCaller(stepper, s, callers, min_depth)) {
      if (pool != nullptr && s.parent != kNoNode) pool->Unref(s.parent);
      continue;
    }
    set->stacks[kept++] = s;
  }
  set->stacks.resize(kept);
}

void UniqueItemsChecker::FindOpened(const PdaStepper& stepper, const StackSet& set,
                                    const UniqueState& st, std::vector<NodeId>* out,
                                    bool* live) const {
  out->clear();
  *live = false;
  auto known = [&](NodeId caller) {
    for (const UniqueState::Tracked& t : st.arrays) {
      if (t.record != nullptr &&
          std::binary_search(t.record->callers.begin(), t.record->callers.end(), caller)) {
        return true;
      }
    }
    return false;
  };
  for (const Stack& s : set.stacks) {
    NodeId caller = kNoNode;
    bool found = Flagged(s.state);
    if (found) {
      caller = s.parent;
    } else {
      // The frame that read the '[' is under at most the frames its closure pushed.
      int32_t left = g_->max_closure_pushes() + 1;
      for (NodeId id = s.parent; id != kNoNode && left-- > 0;) {
        const StackNode& n = stepper.node(id);
        if (Flagged(n.state)) {
          caller = n.parent;
          found = true;
          break;
        }
        id = n.parent;
      }
    }
    if (found && !known(caller)) {
      out->push_back(caller);
      // The flagged frame: the stack's top or the node whose parent is `caller`.
      int32_t state = s.state;
      if (!(Flagged(state) && s.parent == caller)) {
        for (NodeId id = s.parent; id != kNoNode; id = stepper.node(id).parent) {
          if (stepper.node(id).parent == caller && Flagged(stepper.node(id).state)) {
            state = stepper.node(id).state;
            break;
          }
        }
      }
      *live |= g_->rule(g_->rule_of(state)).unique_items == kUniqueKeysLive;
    }
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

bool UniqueItemsChecker::Step(PdaStepper* stepper, StackPool* pool, uint8_t b, StackSet* set,
                              UniqueState* st) const {
  return StepImpl(stepper, pool, b, set, st, /*check_live=*/true);
}

bool UniqueItemsChecker::StepImpl(PdaStepper* stepper, StackPool* pool, uint8_t b, StackSet* set,
                                  UniqueState* st, bool check_live) const {
  LexEvents ev;
  LexByte(st, b, pool != nullptr, &ev);
  // Not JSON: the '[' was not an array's (a bracket in a string, read from idle) or the flagged
  // rule is not a JSON array (a hand-written grammar): there are no items to compare.
  if (ev.error) st->Clear();
  if (ev.too_deep) {
    stepper->NoteLimitHit();
    if (pool != nullptr) stepper->Release(*set);
    set->stacks.clear();
    return false;
  }
  for (int i = 0; i < ev.num_dups; ++i) Prune(pool, ev.dups[i]->callers, *stepper, set);
  const char c = static_cast<char>(b);
  if (pool == nullptr) {
    if (set->stacks.empty() || !stepper->Advance(*set, std::string_view(&c, 1), set)) return false;
  } else {
    StackSet next;
    const bool ok =
        !set->stacks.empty() && stepper->Advance(*set, std::string_view(&c, 1), &next);
    if (ok) stepper->Commit(&next);
    stepper->Release(*set);
    stepper->ResetScratch();
    if (!ok) {
      set->stacks.clear();
      return false;
    }
    *set = std::move(next);
  }
  if (ev.opened && !st->frames.empty()) {
    std::vector<NodeId> callers;
    bool live = false;
    FindOpened(*stepper, *set, *st, &callers, &live);
    if (!callers.empty()) {
      st->frames.back().tracked = static_cast<int32_t>(st->arrays.size());
      UniqueState::Tracked t;
      t.record = std::make_shared<ArrayRecord>(std::move(callers), pool);
      t.live = live && st->frames.back().object;
      st->arrays.push_back(std::move(t));
    } else if (st->frames.size() == 1 && st->frames[0].tracked < 0) {
      st->Clear();  // a '[' outside any flagged array, and not one itself
    }
  }
  if (check_live && KeyPrefixAtRisk(*st)) {
    const bool live = KeyLive(stepper, *set, *st);
    if (pool != nullptr) stepper->ResetScratch();  // the search's nodes (`set` is committed)
    if (!live) {
      // Every continuation of this key repeats one the object has (a closed object's): refused
      // now, while a generator can still take another token.
      if (pool != nullptr) stepper->Release(*set);
      set->stacks.clear();
      return false;
    }
  }
  return true;
}

namespace {

// Calls f(text) for each key the object has written (stored, then pending) while f returns true;
// false when f stopped it.
template <typename F>
bool ForEachWrittenKey(const UniqueState::Tracked& t, F f) {
  if (t.record != nullptr) {
    const std::vector<std::string>& texts = t.record->store.texts();
    for (size_t i = 0; i < t.count && i < texts.size(); ++i) {
      if (!f(std::string_view(texts[i]))) return false;
    }
  }
  for (const std::string& key : t.pending_texts) {
    if (!f(std::string_view(key))) return false;
  }
  return true;
}

}  // namespace

bool KeyPrefixAtRisk(const UniqueState& st) {
  if (st.frames.empty()) return false;
  const UniqueState::Frame& top = st.frames.back();
  if (!top.object || top.tracked < 0) return false;
  const UniqueState::Tracked& t = st.arrays[top.tracked];
  if (!t.live && t.record != nullptr) return false;  // speculative: may be live-checked
  const bool in_key = st.in_string() && top.key_string;
  if (!in_key && !(st.scalar == UniqueState::kNone &&
                   (top.phase == UniqueState::kKey || top.phase == UniqueState::kKeyOrEnd))) {
    return false;
  }
  // At risk: the prefix read so far begins a key already written (any key, when empty).
  if (!in_key || st.text.empty()) return t.count > 0 || !t.pending.empty();
  const std::string_view prefix = st.text;
  return !ForEachWrittenKey(t, [&](std::string_view key) { return !key.starts_with(prefix); });
}

std::vector<std::string_view> UsedKeyTexts(const UniqueState& st) {
  std::vector<std::string_view> out;
  ForEachWrittenKey(st.arrays[st.frames.back().tracked], [&](std::string_view key) {
    out.push_back(key);
    return true;
  });
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t LiveMemoKey(const UniqueState& st) {
  // The answer depends on the keys written and the prefix (the grammar's state at a key of this
  // object follows from those): memoised per record.
  const UniqueState::Tracked& t = st.arrays[st.frames.back().tracked];
  uint64_t key = (uint64_t{t.count} << 32) ^ (st.in_string() ? st.str.a * 31 + 7 : 1);
  if (t.record != nullptr) {
    key = key * 0x9e3779b97f4a7c15ull + t.record->store.PrefixHash(t.count);
  }
  for (const ValueHash& h : t.pending) key = key * 0x9e3779b97f4a7c15ull + h.a;
  key ^= static_cast<uint64_t>(st.frames.size()) << 56;
  return key * 0x9e3779b97f4a7c15ull +
         (uint64_t{st.scalar} << 40 | uint64_t{st.unicode_digits} << 32 | st.unicode) +
         (uint64_t{st.high_surrogate} << 20);
}

int LexForLiveKeys(const UniqueState& st, std::string_view bytes, UniqueState* scratch) {
  *scratch = st;
  for (const char c : bytes) {
    LexEvents ev;
    LexByte(scratch, static_cast<uint8_t>(c), false, &ev);
    if (ev.any_dup || ev.too_deep) return 1;
    if (ev.error) {
      scratch->Clear();
      continue;
    }
    if (ev.opened) {
      scratch->frames.back().tracked = static_cast<int32_t>(scratch->arrays.size());
      scratch->arrays.push_back(UniqueState::Tracked());
    }
  }
  // A key prefix with no completion but repeats stays so as it grows (and closing it is a
  // repeat), so only where the token leaves the lexer matters.
  if (!KeyPrefixAtRisk(*scratch)) return 0;
  return scratch->arrays[scratch->frames.back().tracked].record != nullptr ? 2 : 1;
}

bool UniqueItemsChecker::KeyLive(PdaStepper* stepper, const StackSet& set,
                                 const UniqueState& st) const {
  const UniqueState::Tracked& t = st.arrays[st.frames.back().tracked];
  const uint64_t key = LiveMemoKey(st);
  if (t.record != nullptr) {
    const auto it = t.record->live_memo.find(key);
    if (it != t.record->live_memo.end()) return it->second;
  }
  // Depth-first over the bytes the grammar allows ('"' first: the shortest completion), through
  // the check without this liveness test, until the key closes as one not written. Whitespace
  // before the key's quote is tried only when the quote cannot come yet (it does not change
  // which keys follow). Past the budget the prefix counts as live.
  const size_t depth = st.frames.size();
  int budget = kMaxLiveNodes;
  std::function<int(const StackSet&, const UniqueState&, int)> dfs =
      [&](const StackSet& s, const UniqueState& u, int level) -> int {
    uint64_t next[4];
    stepper->NextBytes(s, next);
    auto allowed = [&](int byte) { return (next[byte >> 6] >> (byte & 63) & 1) != 0; };
    const bool before_quote = !u.in_string();
    bool tried_space = false;
    for (int i = -1; i < 256; ++i) {
      const int byte = i < 0 ? '"' : i;
      if ((i >= 0 && byte == '"') || !allowed(byte)) continue;
      const bool space = byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r';
      if (before_quote && space && (allowed('"') || tried_space)) continue;
      tried_space |= space;
      if (--budget < 0) return -1;
      StackSet s2;
      s2.stacks = s.stacks;
      s2.can_end = s.can_end;
      UniqueState u2 = u;
      if (!StepImpl(stepper, nullptr, static_cast<uint8_t>(byte), &s2, &u2, false)) continue;
      if (u2.frames.size() != depth) continue;
      if (u2.scalar == UniqueState::kNone && u2.frames.back().phase == UniqueState::kColon) {
        return 1;  // closed as a key not written before
      }
      if (level >= kMaxLiveDepth) return -1;
      const int r = dfs(s2, u2, level + 1);
      if (r != 0) return r;
    }
    return 0;
  };
  const bool live = dfs(set, st, 0) != 0;
  if (t.record != nullptr) t.record->live_memo.emplace(key, live);
  return live;
}

bool UniqueItemsChecker::WouldAccept(PdaStepper* stepper, const StackSet& from,
                                     const UniqueState& st, std::string_view bytes,
                                     StackSet* scratch_set, UniqueState* scratch) const {
  *scratch = st;
  scratch_set->stacks = from.stacks;
  scratch_set->can_end = from.can_end;
  for (const char c : bytes) {
    if (!Step(stepper, nullptr, static_cast<uint8_t>(c), scratch_set, scratch)) return false;
  }
  return true;
}

bool UniqueItemsChecker::MayRepeat(const UniqueState& st, std::string_view bytes,
                                   UniqueState* scratch) {
  return LexForLiveKeys(st, bytes, scratch) != 0;
}

void UniqueItemsChecker::CloneRecords(
    UniqueState* st, StackPool* pool,
    std::unordered_map<const ArrayRecord*, std::shared_ptr<ArrayRecord>>* done) {
  for (UniqueState::Tracked& t : st->arrays) {
    if (t.record == nullptr) continue;
    auto [it, fresh] = done->emplace(t.record.get(), nullptr);
    if (fresh) {
      it->second = std::make_shared<ArrayRecord>(t.record->callers, pool);
      it->second->store = t.record->store;
    }
    t.record = it->second;
  }
}

// ---- token classes ----

std::shared_ptr<const UniqueTokenClasses> UniqueTokenClasses::For(
    const std::shared_ptr<const Vocabulary>& v) {
  static std::mutex mu;
  static std::vector<std::pair<std::weak_ptr<const Vocabulary>,
                               std::shared_ptr<const UniqueTokenClasses>>>
      cache;
  std::lock_guard<std::mutex> lock(mu);
  std::erase_if(cache, [](const auto& e) { return e.first.expired(); });
  for (const auto& e : cache) {
    if (e.first.lock() == v) return e.second;
  }
  auto c = std::make_shared<UniqueTokenClasses>();
  const size_t words = (v->size() + 31) / 32;
  c->quote.assign(words, 0);
  c->events.assign(words, 0);
  c->quiet.assign(words, 0);
  for (size_t i = 0; i < v->size(); ++i) {
    const uint32_t bit = uint32_t{1} << (i & 31);
    const std::string_view t = v->TokenBytes(static_cast<int32_t>(i));
    bool quiet = !t.empty();
    size_t quotes = 0;
    for (const char ch : t) {
      const auto b = static_cast<uint8_t>(ch);
      quiet &= IsSpace(b) || b == ',' || b == ':';
      if (b == '"') {
        c->quote[i >> 5] |= bit;
        ++quotes;
      }
      if (b == '"' || b == ']' || b == '}' || b == ',' || IsSpace(b) || b == 'e' || b == 'l') {
        c->events[i >> 5] |= bit;
      }
    }
    if (quiet) c->quiet[i >> 5] |= bit;
    c->quotes.push_back(static_cast<uint8_t>(std::min<size_t>(quotes, 3)));
    if (t.find(',') != std::string_view::npos) c->comma_ids.push_back(static_cast<int32_t>(i));
    const size_t first_quote = t.find('"');
    if (first_quote != std::string_view::npos &&
        t.find(',', first_quote) != std::string_view::npos) {
      c->quote_comma_ids.push_back(static_cast<int32_t>(i));
    }
    if (quotes >= 2) c->quote2_ids.push_back(static_cast<int32_t>(i));
    if (quotes >= 3) c->quote3_ids.push_back(static_cast<int32_t>(i));
    // From idle, a token repeats an item only within a container it opens itself: two items of
    // an array, so a '[' and then a ','; two keys of an object, so a '{' and then four quotes.
    const size_t open = t.find('[');
    const size_t brace = t.find('{');
    if ((open != std::string_view::npos && t.find(',', open) != std::string_view::npos) ||
        (brace != std::string_view::npos &&
         std::count(t.begin() + static_cast<std::ptrdiff_t>(brace), t.end(), '"') >= 4)) {
      c->bracket_ids.push_back(static_cast<int32_t>(i));
    }
  }
  c->slot.assign(v->size(), -1);
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(c->quote[i >> 5] >> (i & 31) & 1)) continue;
    const std::string_view t = v->TokenBytes(static_cast<int32_t>(i));
    c->slot[i] = static_cast<int32_t>(c->inside.size());
    c->inside.push_back(StringEndOf(t));
    size_t lead = 0;
    while (lead < t.size() && IsSpace(static_cast<uint8_t>(t[lead]))) ++lead;
    c->opening.push_back(lead < t.size() && t[lead] == '"' ? StringEndOf(t.substr(lead + 1))
                                                          : UniqueTokenClasses::StringEnd());
  }
  const Keys& k = K();
  for (int table = 0; table < 2; ++table) {
    UniqueTokenClasses::ByPre& by = c->by_pre[table];
    c->lex[table].assign(words, 0);
    std::vector<char> seen_len;
    for (size_t i = 0; i < v->size(); ++i) {
      const uint32_t bit = uint32_t{1} << (i & 31);
      const int32_t sl = c->slot[i];
      const UniqueTokenClasses::StringEnd* e =
          sl < 0 ? nullptr : table == 0 ? &c->inside[sl] : &c->opening[sl];
      if (e != nullptr && e->ok && e->rest_quiet) {
        const uint32_t len = e->len;
        by.tokens[e->pre.a].push_back(static_cast<int32_t>(i));
        if (seen_len.size() <= len) seen_len.resize(len + 1, 0);
        if (!seen_len[len]) {
          seen_len[len] = 1;
          by.lengths.push_back(len);
        }
        continue;
      }
      const bool candidate = table == 0 ? (c->quote[i >> 5] & bit)
                                        : ((c->events[i >> 5] & bit) && !(c->quiet[i >> 5] & bit));
      if (candidate) c->lex[table][i >> 5] |= bit;
    }
    by.pow.assign(seen_len.size(), ValueHash{1, 1});
    for (size_t len = 1; len < by.pow.size(); ++len) {
      by.pow[len] = {MulMod(by.pow[len - 1].a, k.seq_a), MulMod(by.pow[len - 1].b, k.seq_b)};
    }
  }
  cache.emplace_back(v, c);
  return c;
}

namespace {

bool Repeats(const UniqueState& st, const UniqueState::Frame& top, const ValueHash& h) {
  if (top.tracked < 0) return false;
  const UniqueState::Tracked& t = st.arrays[top.tracked];
  return (t.record != nullptr && t.record->store.Contains(t.count, h)) ||
         std::find(t.pending.begin(), t.pending.end(), h) != t.pending.end();
}

// The string end token `id` makes where ctx says (precomputed, so without \u escapes), or null.
const UniqueTokenClasses::StringEnd* KnownEnd(const QuickCheckContext& ctx,
                                              const UniqueTokenClasses& cls, int32_t id) {
  const int32_t slot = cls.slot[id];
  if (slot < 0 || ctx.table < 0) return nullptr;
  const UniqueTokenClasses::StringEnd& e = ctx.table == 0 ? cls.inside[slot] : cls.opening[slot];
  return e.ok ? &e : nullptr;
}

// Whether that end (item = base * B^L + pre) repeats an item of the container on top.
bool EndRepeats(const UniqueState& st, const QuickCheckContext& ctx,
                const UniqueTokenClasses::StringEnd& e) {
  const ValueHash h{AddMod(MulMod(ctx.base.a, e.pow.a), e.pre.a),
                    AddMod(MulMod(ctx.base.b, e.pow.b), e.pre.b)};
  return Repeats(st, st.frames.back(), h);
}

}  // namespace

QuickCheckContext PrepareQuickCheck(const UniqueState& st) {
  QuickCheckContext ctx;
  if (st.frames.empty()) return ctx;
  ctx.active = true;
  ctx.keys_only = true;
  for (const UniqueState::Frame& f : st.frames) {
    ctx.keys_only &= f.object || f.tracked < 0;
    ctx.live_keys |= f.tracked >= 0 && st.arrays[f.tracked].live;
  }
  const UniqueState::Frame& top = st.frames.back();
  const bool flagged = top.tracked >= 0;
  // The string in progress is an item: an array's string item, or a flagged object's key.
  ctx.current_item = st.in_string() && flagged && (!top.object || top.key_string);
  if (st.scalar == UniqueState::kNumber) {
    ctx.number_repeats =
        !top.object && Repeats(st, top, HashText(K().number, CanonicalNumber(st.number)));
  } else if (st.scalar == UniqueState::kString && st.high_surrogate == 0) {
    ctx.table = 0;
    ctx.base = st.str;
    ctx.tracked_item = ctx.current_item;
  } else if (st.scalar == UniqueState::kNone) {
    const bool value = top.phase == UniqueState::kValue || top.phase == UniqueState::kValueOrEnd;
    const bool key = top.phase == UniqueState::kKey || top.phase == UniqueState::kKeyOrEnd;
    if (value || key) {
      ctx.table = 1;
      ctx.base = K().string;
      ctx.tracked_item = flagged && (top.object ? key : value);
    }
  }
  return ctx;
}

size_t RepeatLookupCost(const UniqueState& st, const QuickCheckContext& ctx,
                        const UniqueTokenClasses& cls) {
  if (ctx.table < 0 || !ctx.tracked_item) return 0;
  const UniqueState::Tracked& t = st.arrays[st.frames.back().tracked];
  return (t.count + t.pending.size()) * cls.by_pre[ctx.table].lengths.size();
}

void ForEachRepeatingStringEnd(const UniqueState& st, const QuickCheckContext& ctx,
                               const UniqueTokenClasses& cls,
                               const std::function<void(int32_t)>& f) {
  if (ctx.table < 0 || !ctx.tracked_item) return;
  const UniqueTokenClasses::ByPre& by = cls.by_pre[ctx.table];
  const UniqueState::Tracked& t = st.arrays[st.frames.back().tracked];
  auto each_item = [&](const ValueHash& item) {
    for (const uint32_t len : by.lengths) {
      // item = base * B^L + pre  =>  pre = item - base * B^L
      const ValueHash scaled{MulMod(ctx.base.a, by.pow[len].a), MulMod(ctx.base.b, by.pow[len].b)};
      const ValueHash pre{AddMod(item.a, kPrime - scaled.a), AddMod(item.b, kPrime - scaled.b)};
      const auto it = by.tokens.find(pre.a);
      if (it == by.tokens.end()) continue;
      for (const int32_t id : it->second) {
        const int32_t sl = cls.slot[id];
        const UniqueTokenClasses::StringEnd& e =
            ctx.table == 0 ? cls.inside[sl] : cls.opening[sl];
        if (e.len == len && e.pre == pre) f(id);
      }
    }
  };
  if (t.record != nullptr) {
    const std::vector<ValueHash>& items = t.record->store.items();
    for (size_t i = 0; i < t.count && i < items.size(); ++i) each_item(items[i]);
  }
  for (const ValueHash& h : t.pending) each_item(h);
}

int QuickRepeatCheck(const UniqueState& st, const QuickCheckContext& ctx,
                     const UniqueTokenClasses& cls, int32_t id) {
  if (!ctx.active || id < 0 || static_cast<size_t>(id) >= cls.slot.size()) return -1;
  if (ctx.keys_only) {
    // Only keys are items, and a key ends at a closing quote. Inside a string its first quote
    // ends that string, and another key needs two more; elsewhere the first key needs two.
    const int quotes = cls.quotes[id];
    const bool string = st.in_string();
    const bool first_is_item = string ? ctx.current_item : ctx.tracked_item;
    if (quotes < (string ? 1 : 2)) return 0;
    if (first_is_item) {
      const UniqueTokenClasses::StringEnd* e = KnownEnd(ctx, cls, id);
      if (e == nullptr) return -1;
      if (EndRepeats(st, ctx, *e)) return 1;
    } else if (!string && quotes >= 2) {
      return -1;  // a number or literal, then ',' and a key
    }
    return quotes >= 3 ? -1 : 0;
  }
  if (cls.quiet[id >> 5] >> (id & 31) & 1) {
    // Whitespace and separators end only a number (then this number is the item).
    if (st.scalar == UniqueState::kNone || st.in_string()) return 0;
    if (st.scalar == UniqueState::kNumber) return ctx.number_repeats ? 1 : 0;
  }
  const UniqueTokenClasses::StringEnd* e = KnownEnd(ctx, cls, id);
  if (e == nullptr) return -1;
  if (ctx.tracked_item && EndRepeats(st, ctx, *e)) return 1;
  return e->rest_quiet ? 0 : -1;
}

}  // namespace sieve
