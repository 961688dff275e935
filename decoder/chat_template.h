// Chat prompts for DeepSeek models: messages -> the token segments the model was trained on.
//
// sieve does not evaluate Jinja. It recognises the chat templates DeepSeek ships by their text
// (tokenizer_config.json's `chat_template`) and renders them natively:
//   deepseek-v2 (DeepSeek-V2/V2-Lite Chat): bos, then per message: system -> "{content}\n\n",
//     user -> "User: {content}\n\n", assistant -> "Assistant: {content}" + eos; then
//     "Assistant:" to open the reply.
//   deepseek-v3 (DeepSeek-V2.5/V3/R1 family): bos + the system messages joined by "\n\n", then
//     user -> <｜User｜>{content}, assistant -> <｜Assistant｜>{content}<｜end▁of▁sentence｜>;
//     then <｜Assistant｜>. Tool calls and tool outputs are not rendered (kUnsupported).
// Any other template is kUnsupported naming the file: the caller should pass a plain prompt
// rather than have sieve guess a format. Control tokens are returned as separate special
// segments, so text inside a message can never turn into a control token.
#ifndef SIEVE_DECODER_CHAT_TEMPLATE_H_
#define SIEVE_DECODER_CHAT_TEMPLATE_H_

#include <string>
#include <string_view>
#include <vector>

#include "grammar/support/status.h"

namespace sieve {

enum class ChatFormat { kNone, kDeepSeekV2, kDeepSeekV3 };

struct ChatMessage {
  std::string role;  // system, user, assistant
  std::string content;
};

struct ChatSegment {
  std::string text;
  bool special = false;  // a control token's text (encode with special tokens allowed)
};

const char* ChatFormatName(ChatFormat format);

// The format of a chat_template text; kUnsupported for templates sieve does not know.
Result<ChatFormat> RecognizeChatTemplate(std::string_view template_text);

// Reads `path` (a tokenizer_config.json): kNone when the file is missing or has no
// chat_template; the recognised format; kUnsupported/kFormat errors naming the file otherwise.
Result<ChatFormat> LoadChatFormat(const std::string& path);

// Renders messages in `format` ending with the assistant prefix. kInvalidArgument for an unknown
// role or an empty list; kUnsupported for format kNone.
Result<std::vector<ChatSegment>> RenderChat(ChatFormat format,
                                            const std::vector<ChatMessage>& messages,
                                            const std::string& bos_text,
                                            const std::string& eos_text);

}  // namespace sieve

#endif  // SIEVE_DECODER_CHAT_TEMPLATE_H_
