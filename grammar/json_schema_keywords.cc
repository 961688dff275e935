// Reading one schema object into a Formula: every keyword of drafts 4 to 2020-12 is dispatched
// here. Assertions on one type (minimum, pattern, minItems, required...) fill that type's
// constraint record of a single base clause; applicators become formulas merged into it:
// allOf/$ref by conjunction, anyOf by union, oneOf through Converter::OneOf, `not` by negation,
// if/then/else as (if & then) | (!if & else), and dependencies as a split into "key absent" and
// "key present and the dependency holds".
//
// Draft differences: up to draft 7 `$ref` replaces the whole schema object (siblings ignored, as
// the specification says); draft 4's boolean exclusiveMinimum/exclusiveMaximum modify
// minimum/maximum; `items` as an array is a tuple in every draft (users write it in 2020-12 too)
// and then `additionalItems` applies; `dependencies` is read in every draft.
// Strict semantics (OpenAI): every property listed is required and additionalProperties defaults
// to false for object schemas.
#include <algorithm>
#include <unordered_set>
#include <utility>

#include "grammar/json_schema_internal.h"

namespace sieve::jsonschema {

namespace {

bool IsLegacyDraft(JsonSchemaDraft d) {
  return d == JsonSchemaDraft::kDraft4 || d == JsonSchemaDraft::kDraft6 ||
         d == JsonSchemaDraft::kDraft7;
}

void SetLo(NumC* n, const Decimal& v, bool excl) {
  if (!n->lo || Compare(v, n->lo->value) > 0 || (Compare(v, n->lo->value) == 0 && excl)) {
    n->lo = Bound{v, excl};
  }
}

void SetHi(NumC* n, const Decimal& v, bool excl) {
  if (!n->hi || Compare(v, n->hi->value) < 0 || (Compare(v, n->hi->value) == 0 && excl)) {
    n->hi = Bound{v, excl};
  }
}

}  // namespace

// Reads the keywords of one schema object. Private helper class so that the keyword handlers
// share the node, the base clause and the pending formulas.
class SchemaReader {
 public:
  SchemaReader(Converter* conv, int32_t node) : c_(*conv), doc_(conv->doc_), node_(node) {}

  Result<Formula> Read();

 private:
  Status Fail(const std::string& kw, const std::string& message) {
    return c_.ErrorAt(ParseError(kw + ": " + message), node_, kw);
  }
  Result<Decimal> Number(int32_t v, const std::string& kw) {
    if (doc_.at(v).kind != JNode::kNumber) return Fail(kw, "must be a number");
    auto d = Decimal::Parse(doc_.at(v).text);
    if (!d) return c_.ErrorAt(Unsupported(kw + ": number out of range"), node_, kw);
    return *d;
  }
  Result<int64_t> Count(int32_t v, const std::string& kw) {
    auto d = Number(v, kw);
    if (!d.ok()) return d.status();
    if (d->neg || !d->IsInteger()) return Fail(kw, "must be a non-negative integer");
    std::string digits = d->IntDigits();
    if (digits.size() > 12) return int64_t{1} << 40;  // effectively unbounded
    return static_cast<int64_t>(std::stoll(digits));
  }
  Result<std::vector<int32_t>> Array(int32_t v, const std::string& kw) {
    if (doc_.at(v).kind != JNode::kArray) return Fail(kw, "must be an array");
    return doc_.at(v).kids;
  }
  bool IsSchema(int32_t v) const {
    auto k = doc_.at(v).kind;
    return k == JNode::kObject || k == JNode::kTrue || k == JNode::kFalse;
  }
  Status Merge(const Formula& f) {
    auto m = c_.Merge(acc_, f, node_);
    if (!m.ok()) return m.status();
    acc_ = std::move(m).value();
    return Status::Ok();
  }
  Status MergeTerm(TermId t) {
    auto f = c_.Eval(t);
    if (!f.ok()) return f.status();
    return Merge(**f);
  }
  // `s`, the outcome of conjoining `kw` (`what`: which part of it) with the schema read so far;
  // a max_alternatives limit there leaves the keyword out under kIgnore (LeftOutOverLimit; acc_
  // is unchanged by a failed merge) instead of failing the whole schema.
  Status LooseOnLimit(Status s, const std::string& kw, const std::string& what) {
    if (s.ok() || c_.LeftOutOverLimit(s, node_, kw, what)) return Status::Ok();
    return s;
  }

  Status Type(int32_t v);
  Status Enum(const std::vector<int32_t>& values);
  Status Keyword(const std::string& k, int32_t v);
  Status Applicators();
  // acc_ & ((if & then) | (else & !if)) with `if` negated within the keys acc_ & else admits
  // (kUnsupported where a clause is open).
  Result<Formula> IfWithinKeys(TermId cond, TermId then_t, TermId else_t, const Formula& fc);
  Status Dependencies();

  Converter& c_;
  const JDoc& doc_;
  int32_t node_;
  Clause base_;
  Formula acc_;
  ObjPart part_;
  bool has_part_ = false;
};

Status SchemaReader::Type(int32_t v) {
  std::vector<int32_t> names;
  if (doc_.at(v).kind == JNode::kString) {
    names.push_back(v);
  } else if (doc_.at(v).kind == JNode::kArray) {
    names = doc_.at(v).kids;
  } else {
    return Fail("type", "must be a string or an array of strings");
  }
  uint8_t types = 0;
  bool integer = false, number = false;
  for (int32_t n : names) {
    const std::string& t = doc_.at(n).text;
    if (doc_.at(n).kind != JNode::kString) return Fail("type", "must name types");
    if (t == "null") {
      types |= kTNull;
    } else if (t == "boolean") {
      types |= kTBool;
    } else if (t == "object") {
      types |= kTObject;
    } else if (t == "array") {
      types |= kTArray;
    } else if (t == "string") {
      types |= kTString;
    } else if (t == "number") {
      types |= kTNumber;
      number = true;
    } else if (t == "integer") {
      types |= kTNumber;
      integer = true;
    } else {
      return Fail("type", "unknown type '" + t + "'");
    }
  }
  base_.types &= types;
  if (integer && !number) base_.num.integer = true;
  int32_t nullable = doc_.Member(node_, "nullable");
  if (nullable >= 0 && doc_.at(nullable).kind == JNode::kTrue) base_.types |= kTNull;
  return Status::Ok();
}

Status SchemaReader::Enum(const std::vector<int32_t>& values) {
  Clause e;
  e.types = 0;
  e.bools = 0;
  for (int32_t v : values) {
    const JNode& n = doc_.at(v);
    switch (n.kind) {
      case JNode::kNull:
        e.types |= kTNull;
        break;
      case JNode::kFalse:
        e.types |= kTBool;
        e.bools |= 1;
        break;
      case JNode::kTrue:
        e.types |= kTBool;
        e.bools |= 2;
        break;
      case JNode::kNumber: {
        auto d = Decimal::Parse(n.text);
        if (!d) return c_.ErrorAt(Unsupported("enum: number out of range"), v);
        e.types |= kTNumber;
        if (!e.num.allowed) e.num.allowed.emplace();
        e.num.allowed->push_back(*d);
        e.num.src = node_;  // the schema holding the enum / const, for notes
        break;
      }
      case JNode::kString:
        e.types |= kTString;
        if (!e.str.allowed) e.str.allowed.emplace();
        e.str.allowed->push_back(n.text);
        break;
      case JNode::kArray:
        e.types |= kTArray;
        if (!e.arr.allowed) e.arr.allowed.emplace();
        e.arr.allowed->push_back(v);
        break;
      case JNode::kObject:
        e.types |= kTObject;
        if (!e.obj.allowed) e.obj.allowed.emplace();
        e.obj.allowed->push_back(v);
        break;
    }
  }
  if (e.bools == 0) e.bools = 3;
  Formula f;
  f.clauses.push_back(std::move(e));
  return Merge(f);
}

Status SchemaReader::Keyword(const std::string& k, int32_t v) {
  const JNode& n = doc_.at(v);
  const bool legacy = IsLegacyDraft(c_.DraftOf(node_));
  if (k == "type") return Type(v);
  if (k == "nullable") return Status::Ok();  // read with `type`
  if (k == "enum") {
    auto a = Array(v, k);
    if (!a.ok()) return a.status();
    // ---- limit (issue 10, hardening) ----
    if (a->size() > static_cast<size_t>(std::max(c_.opts().max_enum_values, 0))) {
      return c_.ErrorAt(LimitError("enum has " + std::to_string(a->size()) +
                                   " values, more than max_enum_values (" +
                                   std::to_string(c_.opts().max_enum_values) +
                                   "; raise JsonSchemaOptions::max_enum_values)"),
                        node_, k);
    }
    // ---- end limit ----
    return Enum(*a);
  }
  if (k == "const") return Enum({v});
  // ---- numbers ----
  if (k == "minimum" || k == "maximum" || k == "exclusiveMinimum" || k == "exclusiveMaximum") {
    base_.num.src = node_;
    if (n.kind == JNode::kTrue || n.kind == JNode::kFalse) {
      return Status::Ok();  // draft 4 modifier, read with minimum/maximum
    }
    auto d = Number(v, k);
    if (!d.ok()) return d.status();
    if (k == "minimum" || k == "maximum") {
      int32_t ex = doc_.Member(node_, k == "minimum" ? "exclusiveMinimum" : "exclusiveMaximum");
      bool excl = ex >= 0 && doc_.at(ex).kind == JNode::kTrue;
      if (k == "minimum") {
        SetLo(&base_.num, *d, excl);
      } else {
        SetHi(&base_.num, *d, excl);
      }
    } else if (k == "exclusiveMinimum") {
      SetLo(&base_.num, *d, true);
    } else {
      SetHi(&base_.num, *d, true);
    }
    return Status::Ok();
  }
  if (k == "multipleOf") {
    auto d = Number(v, k);
    if (!d.ok()) return d.status();
    if (d->neg || d->is_zero()) return Fail(k, "must be greater than 0");
    base_.num.src = node_;
    base_.num.multiple_of.push_back(*d);  // multipleOf 1 means integral values
    return Status::Ok();
  }
  // ---- strings ----
  if (k == "minLength" || k == "maxLength") {
    auto cnt = Count(v, k);
    if (!cnt.ok()) return cnt.status();
    base_.str.len_src = node_;
    if (k == "minLength") {
      base_.str.min_len = std::max(base_.str.min_len, *cnt);
    } else {
      base_.str.max_len = base_.str.max_len < 0 ? *cnt : std::min(base_.str.max_len, *cnt);
    }
    return Status::Ok();
  }
  if (k == "pattern") {
    if (n.kind != JNode::kString) return Fail(k, "must be a string");
    auto id = c_.AddPattern(n.text, node_);
    if (!id.ok()) {
      if (id.status().code() != StatusCode::kUnsupported) return id.status();
      return c_.Unenforceable(node_, k, id.status().message());
    }
    base_.str.langs.push_back(*id);
    return Status::Ok();
  }
  if (k == "format") {
    if (n.kind != JNode::kString) return Fail(k, "must be a string");
    auto id = c_.AddFormat(n.text, node_);
    if (!id.ok()) {
      if (id.status().code() != StatusCode::kUnsupported) return id.status();
      return c_.Unenforceable(node_, k, id.status().message());
    }
    base_.str.langs.push_back(*id);
    return Status::Ok();
  }
  // ---- arrays ----
  if (k == "items") {
    if (n.kind == JNode::kArray) {
      base_.arr.prefix.clear();
      for (int32_t s : n.kids) base_.arr.prefix.push_back(c_.Src(s));
      int32_t add = doc_.Member(node_, "additionalItems");
      if (add >= 0 && IsSchema(add)) base_.arr.rest = c_.Src(add);
      return Status::Ok();
    }
    if (!IsSchema(v)) return Fail(k, "must be a schema or an array of schemas");
    base_.arr.rest = c_.Src(v);
    return Status::Ok();
  }
  if (k == "prefixItems") {
    auto a = Array(v, k);
    if (!a.ok()) return a.status();
    base_.arr.prefix.clear();
    for (int32_t s : *a) base_.arr.prefix.push_back(c_.Src(s));
    return Status::Ok();
  }
  if (k == "additionalItems") return Status::Ok();  // read with `items`
  if (k == "minItems") {
    auto cnt = Count(v, k);
    if (!cnt.ok()) return cnt.status();
    base_.arr.min = std::max(base_.arr.min, *cnt);
    return Status::Ok();
  }
  if (k == "maxItems") {
    auto cnt = Count(v, k);
    if (!cnt.ok()) return cnt.status();
    base_.arr.max = base_.arr.max < 0 ? *cnt : std::min(base_.arr.max, *cnt);
    return Status::Ok();
  }
  if (k == "uniqueItems") {
    if (n.kind == JNode::kTrue) {
      base_.arr.unique = true;
      base_.arr.unique_src = node_;
    }
    return Status::Ok();
  }
  if (k == "contains") {
    if (!IsSchema(v)) return Fail(k, "must be a schema");
    ContainsC cc;
    cc.schema = c_.Src(v);
    cc.src = node_;
    int32_t mn = doc_.Member(node_, "minContains"), mx = doc_.Member(node_, "maxContains");
    if (mn >= 0 && !legacy) {
      auto cnt = Count(mn, "minContains");
      if (!cnt.ok()) return cnt.status();
      cc.min = *cnt;
    }
    if (mx >= 0 && !legacy) {
      auto cnt = Count(mx, "maxContains");
      if (!cnt.ok()) return cnt.status();
      cc.max = *cnt;
    }
    if (cc.min > 0 || cc.max >= 0) base_.arr.contains.push_back(cc);
    return Status::Ok();
  }
  if (k == "minContains" || k == "maxContains") return Status::Ok();  // read with `contains`
  // ---- objects ----
  if (k == "properties") {
    if (n.kind != JNode::kObject) return Fail(k, "must be an object");
    has_part_ = true;
    for (int32_t s : n.kids) {
      if (!IsSchema(s)) return c_.ErrorAt(ParseError("properties: must map names to schemas"), s);
      part_.props.emplace_back(doc_.at(s).key, c_.Src(s));
    }
    return Status::Ok();
  }
  if (k == "patternProperties") {
    if (n.kind != JNode::kObject) return Fail(k, "must be an object");
    has_part_ = true;
    for (int32_t s : n.kids) {
      auto id = c_.AddPattern(doc_.at(s).key, node_);
      if (!id.ok()) {
        if (id.status().code() != StatusCode::kUnsupported) return id.status();
        SIEVE_RETURN_IF_ERROR(c_.Unenforceable(s, "", id.status().message()));
        continue;
      }
      part_.patterns.emplace_back(*id, c_.Src(s));
    }
    return Status::Ok();
  }
  if (k == "additionalProperties") {
    if (!IsSchema(v)) return Fail(k, "must be a schema");
    has_part_ = true;
    part_.additional = c_.Src(v);
    return Status::Ok();
  }
  if (k == "required") {
    auto a = Array(v, k);
    if (!a.ok()) return a.status();
    std::unordered_set<std::string> have(base_.obj.required.begin(), base_.obj.required.end());
    for (int32_t s : *a) {
      if (doc_.at(s).kind != JNode::kString) return Fail(k, "must list strings");
      const std::string& name = doc_.at(s).text;
      if (have.insert(name).second) base_.obj.required.push_back(name);
    }
    return Status::Ok();
  }
  if (k == "minProperties" || k == "maxProperties") {
    auto cnt = Count(v, k);
    if (!cnt.ok()) return cnt.status();
    if (k == "minProperties") {
      base_.obj.min = std::max(base_.obj.min, *cnt);
    } else {
      base_.obj.max = base_.obj.max < 0 ? *cnt : std::min(base_.obj.max, *cnt);
    }
    return Status::Ok();
  }
  if (k == "propertyNames") {
    if (!IsSchema(v)) return Fail(k, "must be a schema");
    base_.obj.names = c_.Src(v);
    return Status::Ok();
  }
  if (k == "unevaluatedProperties" || k == "unevaluatedItems") {
    // Without in-place applicators, "unevaluated" is "not matched by this object's own
    // keywords", which the additional* keywords already express.
    static const char* kApplicators[] = {
        "allOf",        "anyOf",       "oneOf",        "not", "if", "$ref", "dependentSchemas",
        "dependencies", "$dynamicRef", "$recursiveRef"};
    bool simple = true;
    for (const char* a : kApplicators) simple &= doc_.Member(node_, a) < 0;
    if (!IsSchema(v)) return Fail(k, "must be a schema");
    if (k == "unevaluatedProperties") {
      if (doc_.Member(node_, "additionalProperties") >= 0) return Status::Ok();
      if (simple) {
        has_part_ = true;
        part_.additional = c_.Src(v);
        return Status::Ok();
      }
    } else {
      int32_t items = doc_.Member(node_, "items");
      bool rest_given = items >= 0 && doc_.at(items).kind != JNode::kArray;
      if (items >= 0 && doc_.at(items).kind == JNode::kArray &&
          doc_.Member(node_, "additionalItems") >= 0) {
        rest_given = true;
      }
      if (rest_given) return Status::Ok();
      if (simple && doc_.Member(node_, "contains") < 0) {
        base_.arr.rest = c_.Src(v);
        return Status::Ok();
      }
    }
    return c_.Unenforceable(node_, k,
                            "depends on which in-place applicators evaluated each member; not "
                            "supported next to allOf/anyOf/oneOf/not/if/$ref");
  }
  if (k == "dependentRequired" || k == "dependentSchemas" || k == "dependencies") {
    return Status::Ok();  // Dependencies()
  }
  // Applicators are read in Applicators().
  static const char* kLater[] = {"allOf", "anyOf", "oneOf", "not",         "if",
                                 "then",  "else",  "$ref",  "$dynamicRef", "$recursiveRef"};
  for (const char* a : kLater) {
    if (k == a) return Status::Ok();
  }
  if (IsAnnotationKeyword(k)) return Status::Ok();
  c_.Note(JsonSchemaNote::Kind::kInfo, node_, k,
          "unknown keyword '" + k + "' read as an annotation");
  return Status::Ok();
}

Status SchemaReader::Dependencies() {
  for (const char* kw : {"dependentRequired", "dependentSchemas", "dependencies"}) {
    int32_t v = doc_.Member(node_, kw);
    if (v < 0) continue;
    if (doc_.at(v).kind != JNode::kObject) return Fail(kw, "must be an object");
    for (int32_t d : doc_.at(v).kids) {
      const std::string& key = doc_.at(d).key;
      // Key absent: any object without it (and every non-object).
      Clause absent;
      ObjPart forbid;
      forbid.props.emplace_back(key, kFalseTerm);
      absent.obj.parts.push_back(std::move(forbid));
      Clause present;
      present.types = kTObject;
      present.obj.required.push_back(key);
      Formula f;
      f.clauses.push_back(std::move(absent));
      if (doc_.at(d).kind == JNode::kArray) {
        for (int32_t r : doc_.at(d).kids) {
          if (doc_.at(r).kind != JNode::kString) return Fail(kw, "must list property names");
          present.obj.required.push_back(doc_.at(r).text);
        }
        f.clauses.push_back(std::move(present));
      } else if (IsSchema(d)) {
        Formula p;
        p.clauses.push_back(std::move(present));
        auto s = c_.Eval(c_.Src(d));
        if (!s.ok()) {
          SIEVE_RETURN_IF_ERROR(LooseOnLimit(s.status(), kw, "property '" + key + "': "));
          continue;
        }
        auto m = c_.Merge(p, **s, d);
        if (!m.ok()) {
          SIEVE_RETURN_IF_ERROR(LooseOnLimit(m.status(), kw, "property '" + key + "': "));
          continue;
        }
        for (Clause& cl : m->clauses) f.clauses.push_back(std::move(cl));
      } else {
        return Fail(kw, "values must be arrays of names or schemas");
      }
      SIEVE_RETURN_IF_ERROR(LooseOnLimit(Merge(f), kw, "property '" + key + "': "));
    }
  }
  return Status::Ok();
}

Result<Formula> SchemaReader::IfWithinKeys(TermId cond, TermId then_t, TermId else_t,
                                           const Formula& fc) {
  SIEVE_ASSIGN_OR_RETURN(const Formula* ft, c_.Eval(c_.And({cond, then_t})));
  SIEVE_ASSIGN_OR_RETURN(const Formula* fe, c_.Eval(else_t));
  SIEVE_ASSIGN_OR_RETURN(Formula yes, c_.Merge(acc_, *ft, node_));
  SIEVE_ASSIGN_OR_RETURN(Formula no, c_.Merge(acc_, *fe, node_));
  SIEVE_ASSIGN_OR_RETURN(Formula no_if, c_.MinusWithinKeys(no, fc, node_));
  for (Clause& c : no_if.clauses) yes.clauses.push_back(std::move(c));
  if (static_cast<int32_t>(yes.clauses.size()) > c_.opts().max_alternatives) {
    return c_.AlternativesLimit(node_, "if");
  }
  return yes;
}

Status SchemaReader::Applicators() {
  for (const char* kw : {"$ref", "$dynamicRef", "$recursiveRef"}) {
    int32_t r = doc_.Member(node_, kw);
    if (r < 0) continue;
    if (doc_.at(r).kind != JNode::kString) return Fail(kw, "must be a string");
    auto target = c_.ResolveRef(node_, doc_.at(r).text);
    if (!target.ok() && target.status().code() == StatusCode::kUnsupported) {
      SIEVE_RETURN_IF_ERROR(c_.Unenforceable(node_, kw, target.status().message()));
      continue;  // ignored: the reference constrains nothing
    }
    if (!target.ok()) return c_.ErrorAt(target.status(), node_, kw);
    if (std::string(kw) != "$ref" && (doc_.Member(*target, "$dynamicAnchor") >= 0 ||
                                      doc_.Member(*target, "$recursiveAnchor") >= 0)) {
      SIEVE_RETURN_IF_ERROR(c_.Unenforceable(node_, kw, "dynamic scopes are not supported"));
      continue;
    }
    SIEVE_RETURN_IF_ERROR(LooseOnLimit(MergeTerm(c_.Src(*target)), kw, ""));
  }
  if (int32_t v = doc_.Member(node_, "allOf"); v >= 0) {
    auto a = Array(v, "allOf");
    if (!a.ok()) return a.status();
    for (size_t i = 0; i < a->size(); ++i) {
      SIEVE_RETURN_IF_ERROR(LooseOnLimit(MergeTerm(c_.Src((*a)[i])), "allOf",
                                         "item " + std::to_string(i) + ": "));
    }
  }
  // The union of the branches' clauses (anyOf; oneOf under x-guidance's coerce_one_of).
  auto any_of = [&](const std::vector<int32_t>& branches) -> Status {
    Formula u;
    for (int32_t s : branches) {
      auto f = c_.Eval(c_.Src(s));
      if (!f.ok()) return f.status();
      for (const Clause& cl : (*f)->clauses) u.clauses.push_back(cl);
    }
    return Merge(u);
  };
  if (int32_t v = doc_.Member(node_, "anyOf"); v >= 0) {
    auto a = Array(v, "anyOf");
    if (!a.ok()) return a.status();
    SIEVE_RETURN_IF_ERROR(LooseOnLimit(any_of(*a), "anyOf", ""));
  }
  if (int32_t v = doc_.Member(node_, "oneOf"); v >= 0) {
    auto a = Array(v, "oneOf");
    if (!a.ok()) return a.status();
    if (c_.coerce_one_of()) {  // reported once, at the root's x-guidance
      SIEVE_RETURN_IF_ERROR(LooseOnLimit(any_of(*a), "oneOf", ""));
    } else {
      std::vector<TermId> branches;
      for (int32_t s : *a) branches.push_back(c_.Src(s));
      auto f = c_.OneOf(branches, node_);
      SIEVE_RETURN_IF_ERROR(LooseOnLimit(f.ok() ? Merge(*f) : f.status(), "oneOf", ""));
    }
  }
  if (int32_t v = doc_.Member(node_, "not"); v >= 0) {
    if (!IsSchema(v)) return Fail("not", "must be a schema");
    auto negation = [&]() -> Status {
      TermId inner = c_.Src(v);
      auto fi = c_.Eval(inner);
      if (!fi.ok()) return fi.status();
      auto fn = c_.Eval(c_.Not(inner));
      if (fn.ok()) return Merge(**fn);
      if (fn.status().code() == StatusCode::kUnsupported) {
        // additionalProperties / patternProperties negated within the keys the schema read so
        // far admits, where it is closed (Converter::MinusWithinKeys).
        auto within = c_.MinusWithinKeys(acc_, **fi, node_);
        if (within.ok()) {
          acc_ = std::move(within).value();
          return Status::Ok();
        }
        if (within.status().code() != StatusCode::kUnsupported) return within.status();
        return c_.Unenforceable(node_, "not", fn.status().message());
      }
      return fn.status();
    };
    SIEVE_RETURN_IF_ERROR(LooseOnLimit(negation(), "not", ""));
  }
  if (int32_t v = doc_.Member(node_, "if"); v >= 0 && IsSchema(v)) {
    int32_t th = doc_.Member(node_, "then"), el = doc_.Member(node_, "else");
    TermId cond = c_.Src(v);
    TermId then_t = th >= 0 && IsSchema(th) ? c_.Src(th) : kTrueTerm;
    TermId else_t = el >= 0 && IsSchema(el) ? c_.Src(el) : kTrueTerm;
    auto conditional = [&]() -> Status {
      auto fc = c_.Eval(cond);
      if (!fc.ok()) return fc.status();
      TermId exact = c_.Or({c_.And({cond, then_t}), c_.And({c_.Not(cond), else_t})});
      auto f = c_.Eval(exact);
      if (f.ok()) return Merge(**f);
      if (f.status().code() != StatusCode::kUnsupported) return f.status();
      // Where the schema read so far is closed (finitely many keys), `if`'s negation within
      // those keys (Converter::MinusWithinKeys): this & if & then, or this & else & !if.
      if (auto within = IfWithinKeys(cond, then_t, else_t, **fc); within.ok()) {
        acc_ = std::move(within).value();
        return Status::Ok();
      } else if (within.status().code() != StatusCode::kUnsupported) {
        return within.status();
      }
      SIEVE_RETURN_IF_ERROR(c_.Unenforceable(node_, "if",
                                             "the negation of `if` cannot be expressed (" +
                                                 f.status().message() +
                                                 "); `else` applies to every value",
                                             JsonSchemaNote::Kind::kLoosened));
      auto loose = c_.Eval(c_.Or({c_.And({cond, then_t}), else_t}));
      if (!loose.ok()) return loose.status();
      return Merge(**loose);
    };
    if (then_t != kTrueTerm || else_t != kTrueTerm) {
      SIEVE_RETURN_IF_ERROR(LooseOnLimit(conditional(), "if", ""));
    }
  }
  return Status::Ok();
}

Result<Formula> SchemaReader::Read() {
  const JNode& n = doc_.at(node_);
  if (n.kind == JNode::kTrue) {
    Formula f;
    f.clauses.emplace_back();
    return f;
  }
  if (n.kind == JNode::kFalse) return Formula();
  if (n.kind != JNode::kObject) {
    return c_.ErrorAt(ParseError("a schema must be an object or a boolean"), node_);
  }
  const JsonSchemaDraft draft = c_.DraftOf(node_);
  int32_t ref = doc_.Member(node_, "$ref");
  if (ref >= 0 && IsLegacyDraft(draft)) {
    // Up to draft 7, $ref replaces the schema object.
    if (doc_.at(ref).kind != JNode::kString) return Fail("$ref", "must be a string");
    auto target = c_.ResolveRef(node_, doc_.at(ref).text);
    if (!target.ok() && target.status().code() == StatusCode::kUnsupported) {
      SIEVE_RETURN_IF_ERROR(c_.Unenforceable(node_, "$ref", target.status().message()));
      Formula any;
      any.clauses.emplace_back();
      return any;
    }
    if (!target.ok()) return c_.ErrorAt(target.status(), node_, "$ref");
    auto f = c_.Eval(c_.Src(*target));
    if (!f.ok()) return f.status();
    return **f;
  }
  acc_.clauses.emplace_back();
  for (int32_t kid : n.kids) SIEVE_RETURN_IF_ERROR(Keyword(doc_.at(kid).key, kid));
  // closed_by_default (XGrammar's strict_mode) closes objects that list their keys; kStrict
  // closes every object.
  const bool lists_keys = doc_.Member(node_, "properties") >= 0 ||
                          doc_.Member(node_, "patternProperties") >= 0;
  const bool closed = c_.strict() || (c_.opts().closed_by_default && lists_keys);
  if (closed && (has_part_ || base_.types == kTObject)) {
    if (doc_.Member(node_, "additionalProperties") < 0 &&
        doc_.Member(node_, "unevaluatedProperties") < 0) {
      part_.additional = kFalseTerm;
      has_part_ = true;
    }
  }
  // closed_by_default: no items after a tuple's unless the schema states them.
  if (c_.opts().closed_by_default && !base_.arr.prefix.empty() &&
      doc_.Member(node_, "additionalItems") < 0 && doc_.Member(node_, "unevaluatedItems") < 0 &&
      (doc_.Member(node_, "prefixItems") < 0 || doc_.Member(node_, "items") < 0)) {
    base_.arr.rest = kFalseTerm;
  }
  if (c_.strict() && (has_part_ || base_.types == kTObject)) {
    std::unordered_set<std::string> have(base_.obj.required.begin(), base_.obj.required.end());
    for (const auto& [name, t] : part_.props) {
      if (have.insert(name).second) base_.obj.required.push_back(name);
    }
  }
  if (has_part_) {
    part_.src = node_;
    base_.obj.parts.push_back(std::move(part_));
  }
  base_.obj.src = node_;
  if (base_.arr.unique) base_.arr.unique_src = node_;
  Formula b;
  b.clauses.push_back(std::move(base_));
  SIEVE_RETURN_IF_ERROR(Merge(b));
  SIEVE_RETURN_IF_ERROR(Dependencies());
  SIEVE_RETURN_IF_ERROR(Applicators());
  return std::move(acc_);
}

Result<Formula> Converter::EvalSchema(int32_t node) {
  SchemaReader reader(this, node);
  return reader.Read();
}

}  // namespace sieve::jsonschema
