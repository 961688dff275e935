// JSON Schema front end, structure: objects (required, additional and pattern properties,
// propertyNames, counts, dependencies, property order, strict semantics), arrays (tuples, items,
// counts, contains with min/max, uniqueItems over finite domains) and the whitespace layouts
// (compact, bounded any, indent), including the builtin any-JSON grammar.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grammar/grammar_printer.h"
#include "rapidjson/document.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"
#include "tests/grammar/json_schema_test_util.h"

namespace sieve {
namespace {

using testing::CompileSchema;
using testing::SchemaGrammar;

void ExpectLanguage(const char* schema, const std::vector<std::string>& accepted,
                    const std::vector<std::string>& rejected,
                    const JsonSchemaOptions& opts = testing::CompactOptions()) {
  SchemaGrammar g = CompileSchema(schema, opts);
  ASSERT_TRUE(g.ok()) << schema << ": " << g.status.ToString();
  for (const std::string& t : accepted)
    EXPECT_TRUE(g.Accepts(t)) << schema << " should accept " << t;
  for (const std::string& t : rejected)
    EXPECT_FALSE(g.Accepts(t)) << schema << " should reject " << t;
}

JsonSchemaOptions Order(JsonPropertyOrder order) {
  JsonSchemaOptions o = testing::CompactOptions();
  o.property_order = order;
  return o;
}

// ---- objects ----

TEST(JsonSchemaObjects, StandardSemanticsMakePropertiesOptionalAndAllowExtraKeys) {
  ExpectLanguage(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},
                    "required":["b"]})",
                 {R"({"b":"x"})", R"({"a":1,"b":"x"})", R"({"b":"x","a":1})",
                  R"({"b":"x","zz":[1,{}]})", R"({"c":null,"b":"x","a":2})"},
                 {R"({"a":1})", R"({})", R"({"b":1})", R"({"b":"x","a":"y"})",
                  R"({"b":"x","b":"y"})", R"({"b":"x",})"});
}

TEST(JsonSchemaObjects, AdditionalPropertiesFalseAndSchemaAreExact) {
  ExpectLanguage(R"({"properties":{"a":{}},"additionalProperties":false})",
                 {R"({})", R"({"a":[]})"}, {R"({"b":1})", R"({"a":1,"b":1})"});
  ExpectLanguage(R"({"properties":{"a":{}},"additionalProperties":{"type":"boolean"}})",
                 {R"({"a":1,"x":true})", R"({"x":false,"y":true})"}, {R"({"x":1})"});
}

TEST(JsonSchemaObjects, PatternPropertiesSplitTheKeySpace) {
  const char* s = R"({"properties":{"x_1":{"type":"string"}},
                      "patternProperties":{"^x_":{"type":"integer"},"_n$":{"minimum":5}},
                      "additionalProperties":false})";
  // x_1 must be a string and an integer: no value fits, so the key is forbidden.
  ExpectLanguage(
      s, {R"({"x_2":3})", R"({"x_n":7})", R"({"a_n":9.5})", R"({})"},
      {R"({"x_1":"s"})", R"({"x_n":3})", R"({"a_n":2})", R"({"b":1})", R"({"x_2":1.5})"});
}

// Many patterns: the key space is split pattern by pattern and only non-empty regions count, so
// ten disjoint patterns (ASP.NET's appsettings.json has eight) make eleven regions, not 2^10.
// Patterns that cut each other into more than 256 regions stay unsupported, with the pointer.
TEST(JsonSchemaObjects, ManyPatternPropertiesSplitTheKeySpaceRegionByRegion) {
  std::string s = R"({"additionalProperties":false,"patternProperties":{)";
  for (int i = 0; i < 10; ++i) {
    const std::string n = std::to_string(i);
    s.append(i ? "," : "").append(R"("^k)").append(n).append(R"($":{"minimum":)").append(n);
    s.append("}");
  }
  s += R"(,"^[a-z]+$":{"type":"string"}}})";
  ExpectLanguage(s.c_str(), {R"({"k3":3,"k9":12,"ab":"x"})", R"({})", R"({"k0":0})"},
                 {R"({"k3":2})", R"({"k9":8})", R"({"k10":1})", R"({"ab":1})", R"({"A":"x"})"});
  std::string crossed = R"({"patternProperties":{)";
  for (int i = 0; i < 9; ++i) {
    const std::string n = std::to_string(i);
    crossed.append(i ? "," : "").append("\"").append(n).append(R"(":{"minimum":)").append(n);
    crossed.append("}");
  }
  crossed += "}}";
  auto r = JsonSchemaToGrammar(crossed, testing::CompactOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported) << r.status().ToString();
  EXPECT_EQ(r.status().json_pointer(), "/patternProperties") << r.status().ToString();
  EXPECT_NE(r.status().message().find("regions"), std::string::npos) << r.status().ToString();
}

TEST(JsonSchemaObjects, PropertyNamesConstrainEveryKey) {
  ExpectLanguage(R"({"propertyNames":{"pattern":"^[a-z]+$","maxLength":3}})",
                 {R"({})", R"({"abc":1,"x":2})"}, {R"({"abcd":1})", R"({"A":1})"});
  ExpectLanguage(R"({"properties":{"Bad":{}},"required":["Bad"],"propertyNames":{"maxLength":2}})",
                 {}, {R"({"Bad":1})"});
}

TEST(JsonSchemaObjects, PropertyCountsAreExact) {
  ExpectLanguage(R"({"minProperties":1,"maxProperties":2})", {R"({"a":1})", R"({"a":1,"b":2})"},
                 {R"({})", R"({"a":1,"b":2,"c":3})"});
  ExpectLanguage(R"({"properties":{"a":{},"b":{}},"minProperties":2})",
                 {R"({"a":1,"b":2})", R"({"b":1,"z":0})"}, {R"({"a":1})", R"({"z":0})"});
}

TEST(JsonSchemaObjects, DependentRequiredAndDependentSchemasSplitOnPresence) {
  ExpectLanguage(R"({"dependentRequired":{"card":["billing"]}})",
                 {R"({})", R"({"billing":1})", R"({"card":1,"billing":2})"}, {R"({"card":1})"});
  ExpectLanguage(
      R"({"dependencies":{"a":{"properties":{"b":{"type":"integer"}},"required":["b"]}}})",
      {R"({"a":0,"b":1})", R"({"b":"x"})"}, {R"({"a":0})", R"({"a":0,"b":"x"})"});
}

TEST(JsonSchemaObjects, SchemaOrderFixesTheKeyOrderAndAnyOrderDoesNot) {
  const char* s = R"({"properties":{"a":{},"b":{},"c":{}},"required":["b"],
                      "additionalProperties":false})";
  ExpectLanguage(s, {R"({"a":1,"b":2})", R"({"b":2,"c":3})"}, {R"({"b":2,"a":1})"},
                 Order(JsonPropertyOrder::kSchema));
  ExpectLanguage(s, {R"({"b":2,"a":1})", R"({"c":3,"b":2,"a":1})"}, {R"({"a":1,"c":3})"},
                 Order(JsonPropertyOrder::kAny));
}

TEST(JsonSchemaObjects, LargeAnyOrderObjectsAreCheckedOrFallBackToSchemaOrderAndSaySo) {
  // Open or closed: any order, the matcher refusing a repeated key (tests/grammar/
  // unique_keys_test.cc), an info note. Other keys restricted by patternProperties: schema order,
  // narrowed.
  for (const char* rest : {"}}", R"(},"additionalProperties":false})",
                           R"(},"patternProperties":{"^x":{}}})"}) {
    SCOPED_TRACE(rest);
    const bool patterns = std::string(rest).find("pattern") != std::string::npos;
    std::string s = R"({"type":"object","properties":{)";
    for (int i = 0; i < 12; ++i) {
      if (i) s += ",";
      s.append("\"p").append(std::to_string(i)).append("\":{}");
    }
    s += rest;
    auto r = JsonSchemaToGrammar(s, Order(JsonPropertyOrder::kAny));
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->report.notes.empty());
    EXPECT_EQ(r->report.notes[0].kind,
              patterns ? JsonSchemaNote::Kind::kNarrowed : JsonSchemaNote::Kind::kInfo);
    EXPECT_FALSE(r->report.loosened());
    if (patterns) {
      ExpectLanguage(s.c_str(), {R"({"p1":1,"p5":2})"}, {R"({"p5":2,"p1":1})"},
                     Order(JsonPropertyOrder::kAny));
    } else {
      ExpectLanguage(s.c_str(), {R"({"p1":1,"p5":2})", R"({"p5":2,"p1":1})"}, {},
                     Order(JsonPropertyOrder::kAny));
    }
  }
}

TEST(JsonSchemaObjects, StrictSemanticsRequireEveryPropertyInOrderAndCloseTheObject) {
  JsonSchemaOptions o = testing::CompactOptions();
  o.semantics = JsonSchemaSemantics::kStrict;
  ExpectLanguage(R"({"type":"object","properties":{"name":{"type":"string"},
                    "age":{"type":["integer","null"]}}})",
                 {R"({"name":"a","age":null})", R"({"name":"a","age":3})"},
                 {R"({"name":"a"})", R"({"age":3,"name":"a"})", R"({"name":"a","age":3,"x":1})"},
                 o);
}

TEST(JsonSchemaObjects, KeysAreEscapedLikeJsonStrings) {
  ExpectLanguage(R"({"properties":{"a\"b/c\n":{"const":1}},"required":["a\"b/c\n"],
                    "additionalProperties":false})",
                 {R"({"a\"b/c\n":1})", R"({"a\"b\/c\u000A":1})"}, {R"({"a\"b/c":1})"});
}

// ---- arrays ----

TEST(JsonSchemaArrays, TuplesItemsAndCountsCombine) {
  ExpectLanguage(
      R"({"prefixItems":[{"type":"integer"},{"type":"string"}],"items":{"type":"boolean"},
                    "minItems":1,"maxItems":3})",
      {"[1]", R"([1,"a"])", R"([1,"a",true])"},
      {"[]", R"(["a"])", R"([1,"a",true,false])", "[1,2]"});
  ExpectLanguage(R"({"items":[{"const":1}],"additionalItems":false})", {"[]", "[1]"},
                 {"[1,1]", "[2]"});
  auto ones = [](int n) {
    std::string s = "[1";
    for (int i = 1; i < n; ++i) s += ",1";
    return s + "]";
  };
  ExpectLanguage(R"({"items":{"type":"integer"},"minItems":2,"maxItems":1000})",
                 {"[1,2]", ones(1000)}, {"[1]", ones(1001)});
}

TEST(JsonSchemaArrays, ContainsCountsMatchingItems) {
  ExpectLanguage(R"({"contains":{"type":"string"}})", {R"(["a"])", R"([1,"a",2])"},
                 {"[]", "[1,2]"});
  ExpectLanguage(R"({"contains":{"const":1},"minContains":2,"maxContains":3})",
                 {"[1,1]", "[1,2,1,1]"}, {"[1]", "[1,1,1,1]", "[2,2]"});
  ExpectLanguage(R"({"items":{"type":"integer"},"contains":{"minimum":10},"maxItems":2})",
                 {"[10]", "[1,12]"}, {"[1,2]", "[1,2,30]"});
}

TEST(JsonSchemaArrays, UniqueItemsIsExactOverFiniteDomainsAndCheckedByTheMatcherOtherwise) {
  ExpectLanguage(R"({"items":{"enum":["r","w","x"]},"uniqueItems":true})",
                 {"[]", R"(["w","r"])", R"(["x","r","w"])"}, {R"(["r","r"])", R"(["r","w","r"])"});
  ExpectLanguage(R"({"type":"array","items":{"type":"boolean"},"uniqueItems":true})",
                 {"[true,false]"}, {"[true,true]", "[false,true,false]"});
  ExpectLanguage(R"({"uniqueItems":true,"maxItems":1})", {"[]", "[{}]"}, {"[1,2]"});
  // Unbounded domains: a flagged rule (the matcher's check, tests/grammar/unique_items_test.cc),
  // reported as an info note, not as loosened.
  auto r = JsonSchemaToGrammar(R"({"properties":{"t":{"uniqueItems":true}}})",
                               testing::CompactOptions());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->report.loosened());
  int flagged = 0;
  for (size_t i = 0; i < r->grammar.num_rules(); ++i) {
    flagged += r->grammar.rule(static_cast<RuleId>(i)).unique_items;
  }
  EXPECT_EQ(flagged, 1);
  bool noted = false;
  for (const JsonSchemaNote& n : r->report.notes) {
    noted |= n.pointer == "/properties/t/uniqueItems" && n.kind == JsonSchemaNote::Kind::kInfo;
  }
  EXPECT_TRUE(noted);
}

// A finite domain whose enumeration would be large (a state per subset of values used) goes to
// the matcher's check instead: 15 strings took 2.2 million automaton states (SchemaStore's
// modernizrrc.json) and minutes of mask building. Small ones stay in the grammar.
TEST(JsonSchemaArrays, UniqueItemsEnumeratesOnlySmallDomains) {
  auto flagged_rules = [](const char* schema) {
    auto r = JsonSchemaToGrammar(schema, testing::CompactOptions());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    int flagged = 0;
    for (size_t i = 0; r.ok() && i < r->grammar.num_rules(); ++i) {
      flagged += r->grammar.rule(static_cast<RuleId>(i)).unique_items;
    }
    return flagged;
  };
  const char* large = R"({"items":{"enum":["addTest","atRule","domPrefixes","hasEvent","html5shiv",
      "html5printshiv","load","mq","prefixed","prefixes","prefixedCSS","setClasses","testAllProps",
      "testProp","testStyles"]},"uniqueItems":true})";
  EXPECT_EQ(flagged_rules(large), 1);
  SchemaGrammar g = CompileSchema(large);
  ASSERT_TRUE(g.ok());
  EXPECT_LT(g.pda->num_states(), 2000);
  EXPECT_TRUE(g.Accepts(R"(["mq","load","atRule"])"));
  EXPECT_FALSE(g.Accepts(R"(["mq","load","mq"])"));  // the matcher's check
  EXPECT_EQ(flagged_rules(R"({"items":{"enum":["alpha","beta","gamma","delta","eps","zeta"]},
                              "uniqueItems":true})"),
            0);
  EXPECT_EQ(flagged_rules(R"({"items":{"enum":[true,false,null]},"uniqueItems":true})"), 0);
}

// ---- layouts ----

std::string Pretty(const std::string& compact, int indent) {
  rapidjson::Document d;
  d.Parse(compact.c_str());
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', indent);
  d.Accept(w);
  return sb.GetString();
}

TEST(JsonSchemaLayout, IndentModeIsExactlyThePrettyPrinterLayout) {
  const char* schema = R"({"type":"object","properties":{"a":{"type":"array"},"b":{"type":"object"},
                           "c":{"type":"integer"}}})";
  JsonSchemaOptions o;
  o.whitespace = JsonWhitespace::kIndent;
  o.indent = 2;
  SchemaGrammar g = CompileSchema(schema, o);
  ASSERT_TRUE(g.ok()) << g.status.ToString();
  for (const char* doc :
       {R"({"a":[1,[2,{"x":[]}]],"b":{},"c":3})", R"({})", R"({"b":{"k":{"l":1}}})"}) {
    EXPECT_TRUE(g.Accepts(Pretty(doc, 2))) << Pretty(doc, 2);
    if (std::string(doc) == "{}") continue;  // the same text in every layout
    EXPECT_FALSE(g.Accepts(Pretty(doc, 4))) << Pretty(doc, 4);
    EXPECT_FALSE(g.Accepts(doc));
  }
}

TEST(JsonSchemaLayout, AnyWhitespaceIsBoundedPerRun) {
  JsonSchemaOptions o;
  o.whitespace = JsonWhitespace::kAny;
  o.max_whitespace_run = 4;
  ExpectLanguage(R"({"type":"array","items":{"type":"integer"}})",
                 {"[1,2]", "[ 1 , 2 ]", "[\n\t1,\r\n2\n]", "[    ]"},
                 {" [1]", "[1] ", "[     1]", "[1 2]"}, o);
}

TEST(JsonSchemaLayout, BuiltinJsonGrammarAcceptsAnyJsonValue) {
  JsonSchemaOptions o;
  o.whitespace = JsonWhitespace::kAny;
  auto c = CompileGrammarIr(BuiltinJsonGrammar(o), GrammarCompileOptions());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  for (const char* t : {"1", "-0.5e+7", "\"x\"", "null", R"({"a":[true,{"b":null}],"c":"\u00e9"})",
                        "[ ]", "{ \"a\" : 1 }"}) {
    GrammarMatcher m(c->pda);
    EXPECT_TRUE(m.AcceptString(t) && m.CanTerminate()) << t;
  }
  for (const char* t : {"01", "[1,]", "{a:1}", "tru", "\"\\q\""}) {
    GrammarMatcher m(c->pda);
    EXPECT_FALSE(m.AcceptString(t) && m.CanTerminate()) << t;
  }
}

TEST(JsonSchemaLayout, TrueAndEmptySchemasUseTheAnyValueRule) {
  for (const char* s : {"true", "{}", R"({"description":"anything"})"}) {
    ExpectLanguage(s, {"1", "[]", R"({"x":[null]})"}, {"", "x"});
  }
}

}  // namespace
}  // namespace sieve
