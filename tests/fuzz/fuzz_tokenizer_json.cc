// Fuzz target: tokenizer.json text -> Tokenizer (validation, vocabulary, BPE tables).
//
// A tokenizer that loads is then used: it encodes a fixed sentence and the input's first bytes
// (every id must be in range) and decodes them again. Checks: no crash, no sanitizer report, no
// kInternal, ids in range.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sieve;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto tok = Tokenizer::FromJson(json, "", "fuzz.json");
  if (!tok.ok()) {
    fuzz::CheckNotInternal(tok.status(), "Tokenizer::FromJson");
    return 0;
  }
  const size_t n = (*tok)->vocabulary().size();
  const std::string texts[] = {"Hello, world! 123 <|eot|> éà 😀\n\tx",
                               std::string(json.substr(0, 64))};
  for (const std::string& text : texts) {
    for (bool special : {true, false}) {
      std::vector<int32_t> ids = (*tok)->Encode(text, special);
      for (int32_t id : ids) {
        fuzz::Check(id >= 0 && static_cast<size_t>(id) < n,
                    "Encode produced id " + std::to_string(id) + " outside [0, " +
                        std::to_string(n) + ")");
      }
      (void)(*tok)->Decode(ids);
    }
  }
  return 0;
}
