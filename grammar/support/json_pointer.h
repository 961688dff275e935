// JSON Pointer (RFC 6901) reference tokens: one key spelt for a pointer.
#ifndef SIEVE_GRAMMAR_SUPPORT_JSON_POINTER_H_
#define SIEVE_GRAMMAR_SUPPORT_JSON_POINTER_H_

#include <string>
#include <string_view>

namespace sieve {

// Appends `key` as a reference token ("~" -> "~0", "/" -> "~1"), without the leading '/'.
inline void AppendPointerToken(std::string_view key, std::string* out) {
  for (const char c : key) {
    if (c == '~') {
      *out += "~0";
    } else if (c == '/') {
      *out += "~1";
    } else {
      out->push_back(c);
    }
  }
}

inline std::string PointerToken(std::string_view key) {
  std::string out;
  AppendPointerToken(key, &out);
  return out;
}

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_SUPPORT_JSON_POINTER_H_
