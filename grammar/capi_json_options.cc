#include "grammar/capi_json_options.h"

#include <cstddef>
#include <optional>
#include <string>

namespace sieve::capi {

void SetDocumentLoader(const sieve_json_schema_options* o, JsonSchemaOptions* j) {
  using T = sieve_json_schema_options;
  const auto has = [o](size_t offset, size_t size) {
    return o != nullptr && o->struct_size >= offset + size;
  };
  if (!has(offsetof(T, load_document), sizeof(o->load_document)) || o->load_document == nullptr) {
    return;
  }
  auto* fn = o->load_document;
  void* user = has(offsetof(T, load_document_user), sizeof(o->load_document_user))
                   ? o->load_document_user
                   : nullptr;
  j->load_document = [fn, user](const std::string& uri) -> std::optional<std::string> {
    const char* text = nullptr;
    size_t len = 0;
    if (fn(user, uri.c_str(), &text, &len) != 0 || (text == nullptr && len > 0)) {
      return std::nullopt;
    }
    return std::string(text != nullptr ? text : "", len);
  };
}

void ApplyJsonSchemaOptions(const sieve_json_schema_options* o, JsonSchemaOptions* j) {
  using T = sieve_json_schema_options;
  const auto has = [o](size_t offset, size_t size) {
    return o != nullptr && o->struct_size >= offset + size;
  };
#define SIEVE_JSON_HAS(field) has(offsetof(T, field), sizeof(o->field))
  if (SIEVE_JSON_HAS(strict) && o->strict) j->semantics = JsonSchemaSemantics::kStrict;
  if (SIEVE_JSON_HAS(whitespace)) {
    j->whitespace = o->whitespace == SIEVE_JSON_WS_COMPACT  ? JsonWhitespace::kCompact
                    : o->whitespace == SIEVE_JSON_WS_INDENT ? JsonWhitespace::kIndent
                                                            : JsonWhitespace::kAny;
  }
  if (SIEVE_JSON_HAS(indent) && o->indent > 0) j->indent = o->indent;
  if (SIEVE_JSON_HAS(max_whitespace_run) && o->max_whitespace_run > 0) {
    j->max_whitespace_run = o->max_whitespace_run;
  }
  if (SIEVE_JSON_HAS(item_separator) && o->item_separator) j->item_separator = o->item_separator;
  if (SIEVE_JSON_HAS(key_separator) && o->key_separator) j->key_separator = o->key_separator;
  if (SIEVE_JSON_HAS(closed_by_default) && o->closed_by_default) j->closed_by_default = true;
  if (SIEVE_JSON_HAS(property_order)) {
    if (o->property_order == SIEVE_JSON_ORDER_SCHEMA) {
      j->property_order = JsonPropertyOrder::kSchema;
    }
    if (o->property_order == SIEVE_JSON_ORDER_ANY) j->property_order = JsonPropertyOrder::kAny;
  }
  if (SIEVE_JSON_HAS(ignore_unsupported) && o->ignore_unsupported) {
    j->unsupported = UnsupportedPolicy::kIgnore;
  }
#undef SIEVE_JSON_HAS
  SetDocumentLoader(o, j);
}

}  // namespace sieve::capi
