#include "grammar/support/status.h"

namespace sieve {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kParse: return "parse error";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kLimit: return "limit exceeded";
    case StatusCode::kIo: return "i/o error";
    case StatusCode::kFormat: return "format error";
    case StatusCode::kCuda: return "cuda error";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out = StatusCodeName(code_);
  if (line_ > 0) {
    out += " at " + std::to_string(line_) + ":" + std::to_string(column_);
  } else if (offset_ >= 0) {
    out += " at byte " + std::to_string(offset_);
  }
  if (!json_pointer_.empty()) out += " (at " + json_pointer_ + ")";
  out += ": " + message_;
  return out;
}

}  // namespace sieve
