// Recognising and rendering DeepSeek chat formats: see chat_template.h.
#include "decoder/chat_template.h"

#include <fstream>
#include <sstream>

#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

namespace sieve {
namespace {

bool Has(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

constexpr const char* kV3User = "<\xEF\xBD\x9CUser\xEF\xBD\x9C>";
constexpr const char* kV3Assistant =
    "<\xEF\xBD\x9C"
    "Assistant\xEF\xBD\x9C>";

}  // namespace

const char* ChatFormatName(ChatFormat format) {
  switch (format) {
    case ChatFormat::kNone:
      return "none";
    case ChatFormat::kDeepSeekV2:
      return "deepseek-v2";
    case ChatFormat::kDeepSeekV3:
      return "deepseek-v3";
  }
  return "?";
}

Result<ChatFormat> RecognizeChatTemplate(std::string_view t) {
  if (Has(t, "sieve-builtin: deepseek-v3 format")) return ChatFormat::kDeepSeekV3;
  if (Has(t, "'User: ' + message['content']") &&
      Has(t, "'Assistant: ' + message['content'] + eos_token") && Has(t, "'Assistant:'")) {
    return ChatFormat::kDeepSeekV2;
  }
  if (Has(t, kV3User) && Has(t, kV3Assistant) && Has(t, "ns.system_prompt") &&
      Has(t, "{{bos_token}}")) {
    return ChatFormat::kDeepSeekV3;
  }
  return Unsupported(
      "unrecognised chat_template (sieve renders the DeepSeek-V2 and DeepSeek-V3 chat formats "
      "only; pass a plain prompt instead)");
}

Result<ChatFormat> LoadChatFormat(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return ChatFormat::kNone;
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    Status s =
        FormatError(path + ": invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) +
                    ": " + rapidjson::GetParseError_En(doc.GetParseError()));
    s.WithOffset(static_cast<int64_t>(doc.GetErrorOffset()));
    return s;
  }
  if (!doc.IsObject()) return FormatError(path + ": expected a JSON object");
  auto it = doc.FindMember("chat_template");
  if (it == doc.MemberEnd() || it->value.IsNull()) return ChatFormat::kNone;
  if (!it->value.IsString()) {
    return Unsupported(path +
                       ": /chat_template is not a string (named template lists are not "
                       "supported)");
  }
  Result<ChatFormat> r =
      RecognizeChatTemplate(std::string_view(it->value.GetString(), it->value.GetStringLength()));
  if (!r.ok()) return Status(r.status().code(), path + ": " + r.status().message());
  return r;
}

Result<std::vector<ChatSegment>> RenderChat(ChatFormat format,
                                            const std::vector<ChatMessage>& messages,
                                            const std::string& bos_text,
                                            const std::string& eos_text) {
  if (format == ChatFormat::kNone) {
    return Unsupported("the model has no chat template that sieve can render; pass a plain prompt");
  }
  if (messages.empty()) return InvalidArgument("a chat needs at least one message");
  std::vector<ChatSegment> out;
  auto text = [&](const std::string& s) {
    if (s.empty()) return;
    if (!out.empty() && !out.back().special) {
      out.back().text += s;
    } else {
      out.push_back({s, false});
    }
  };
  auto special = [&](const std::string& s) {
    if (!s.empty()) out.push_back({s, true});
  };
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant") {
      return InvalidArgument("message " + std::to_string(i) + ": role \"" + r +
                             "\" is not rendered (expected system, user or assistant)");
    }
  }
  special(bos_text);
  if (format == ChatFormat::kDeepSeekV2) {
    for (const ChatMessage& m : messages) {
      if (m.role == "system") {
        text(m.content + "\n\n");
      } else if (m.role == "user") {
        text("User: " + m.content + "\n\n");
      } else {
        text("Assistant: " + m.content);
        special(eos_text);
      }
    }
    text("Assistant:");
    return out;
  }
  // deepseek-v3: system prompts first, joined by blank lines.
  std::string system;
  bool first = true;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    system += (first ? "" : "\n\n") + m.content;
    first = false;
  }
  text(system);
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      special(kV3User);
      text(m.content);
    } else if (m.role == "assistant") {
      special(kV3Assistant);
      text(m.content);
      special(eos_text);
    }
  }
  special(kV3Assistant);
  return out;
}

}  // namespace sieve
