#include "tools/cli_common.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace sieve_cli {

ArgParser::ArgParser(std::vector<std::string> value_flags, std::vector<std::string> bool_flags)
    : value_flags_(std::move(value_flags)), bool_flags_(std::move(bool_flags)) {}

bool ArgParser::Parse(int argc, char** argv, int first) {
  bool flags_done = false;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (flags_done || arg.size() < 2 || arg.rfind("--", 0) != 0) {
      positionals_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    std::string name = arg.substr(2), value;
    bool has_inline = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    auto in = [&](const std::vector<std::string>& v) {
      return std::find(v.begin(), v.end(), name) != v.end();
    };
    if (in(bool_flags_)) {
      if (has_inline) {
        error_ = "--" + name + " takes no value";
        return false;
      }
      values_[name] = "";
    } else if (in(value_flags_)) {
      if (!has_inline) {
        if (i + 1 >= argc) {
          error_ = "--" + name + " needs a value";
          return false;
        }
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      error_ = "unknown flag --" + name;
      return false;
    }
  }
  return true;
}

bool ArgParser::Has(const std::string& flag) const { return values_.count(flag) > 0; }

std::optional<std::string> ArgParser::Get(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

int UsageError(const std::string& command, const std::string& message) {
  std::cerr << "sieve " << command << ": " << message << "\n"
            << "Try 'sieve " << command << " --help'.\n";
  return kExitUsage;
}

int ApiError(const std::string& command, const std::string& context, int exit_code) {
  const sieve_error* e = sieve_last_error();
  std::cerr << "sieve " << command << ": " << context << ": " << e->message << "\n";
  return exit_code;
}

bool ParseCountFlag(const ArgParser& args, const std::string& command, const std::string& flag,
                    int def, int max, int* out, int* rc) {
  *out = def;
  auto v = args.Get(flag);
  if (!v) return true;
  char* end = nullptr;
  const long n = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n < 1 || n > max) {
    *rc = UsageError(command, "--" + flag + " must be an integer from 1 to " + std::to_string(max));
    return false;
  }
  *out = static_cast<int>(n);
  return true;
}

bool ReadFile(const std::string& path, std::string* out, std::string* error) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    *out = ss.str();
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *error = "cannot read " + path;
    return false;
  }
  return true;
}

}  // namespace sieve_cli
