#include "grammar/capi_json_loader.h"

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

}  // namespace sieve::capi
