// Status and Result<T>: how every fallible function in sieve reports failure.
//
// Internals never throw. A function that can fail returns Status (no value) or Result<T> (a value or a
// Status). A Status carries a code, a human message, and where the problem is: a byte offset into the
// input text (grammar, schema, regex, tokenizer file), a 1-based line and column when the producer knows
// them, and a JSON pointer for schema errors. Codes map one to one onto the C API's sieve_status.
#ifndef SIEVE_GRAMMAR_SUPPORT_STATUS_H_
#define SIEVE_GRAMMAR_SUPPORT_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sieve {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = -1,  // bad caller input (null, out of range)
  kParse = -2,            // malformed grammar / schema / regex / JSON text
  kUnsupported = -3,      // valid input that sieve cannot enforce
  kLimit = -4,            // a configured limit (size, depth, states, time, memory) was exceeded
  kIo = -5,               // file missing or unreadable
  kFormat = -6,           // a file's content is wrong (tokenizer.json, safetensors, config.json)
  kCuda = -7,             // a CUDA call failed
  kInternal = -8,         // a broken invariant: a bug in sieve
};

const char* StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Location of the problem in the input, when known. -1 = unknown.
  int64_t offset() const { return offset_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& json_pointer() const { return json_pointer_; }

  Status& WithOffset(int64_t offset) {
    offset_ = offset;
    return *this;
  }
  Status& WithLineColumn(int line, int column) {
    line_ = line;
    column_ = column;
    return *this;
  }
  Status& WithPointer(std::string pointer) {
    json_pointer_ = std::move(pointer);
    return *this;
  }
  // Prefixes the message with context, e.g. a file name: "tokenizer.json: merges[3] names no token".
  Status& Prepend(const std::string& context) {
    message_ = context + ": " + message_;
    return *this;
  }

  // "parse error at 3:14: expected ')'" style rendering for logs and the CLI.
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int64_t offset_ = -1;
  int line_ = 0;
  int column_ = 0;
  std::string json_pointer_;
};

inline Status InvalidArgument(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
inline Status ParseError(std::string m) { return Status(StatusCode::kParse, std::move(m)); }
inline Status Unsupported(std::string m) { return Status(StatusCode::kUnsupported, std::move(m)); }
inline Status LimitError(std::string m) { return Status(StatusCode::kLimit, std::move(m)); }
inline Status IoError(std::string m) { return Status(StatusCode::kIo, std::move(m)); }
inline Status FormatError(std::string m) { return Status(StatusCode::kFormat, std::move(m)); }
inline Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

// A value or an error. Access the value only after checking ok().
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: must not be OK

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sieve

// Early return on error, for Status-returning code.
#define SIEVE_RETURN_IF_ERROR(expr)         \
  do {                                      \
    ::sieve::Status sieve_status_ = (expr); \
    if (!sieve_status_.ok()) return sieve_status_; \
  } while (0)

#define SIEVE_CONCAT_INNER_(a, b) a##b
#define SIEVE_CONCAT_(a, b) SIEVE_CONCAT_INNER_(a, b)
#define SIEVE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
// SIEVE_ASSIGN_OR_RETURN(auto x, MakeX()); returns the Status on error.
#define SIEVE_ASSIGN_OR_RETURN(lhs, expr) \
  SIEVE_ASSIGN_OR_RETURN_IMPL_(SIEVE_CONCAT_(sieve_result_, __LINE__), lhs, expr)

#endif  // SIEVE_GRAMMAR_SUPPORT_STATUS_H_
