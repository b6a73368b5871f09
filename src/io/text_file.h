#pragma once
// Text files as users write them: on Windows or by editors that add a
// byte-order mark. Every text input (JSON, JSONL, YAML, module lists, BBH
// cot-prompts) is read through here, so that CRLF line ends and a UTF-8 BOM
// read exactly as LF and no BOM.

#include <string>
#include <vector>

namespace lorahub::io {

// The whole file as bytes (binary files: SentencePiece models, ...). Throws
// std::runtime_error naming the file when it cannot be read.
std::string read_file_bytes(const std::string& path);

// The whole file, a leading UTF-8 BOM (EF BB BF) removed and every CRLF
// turned into LF. Throws std::runtime_error naming the file when it cannot
// be read, std::invalid_argument when it starts with two BOMs.
std::string read_text_file(const std::string& path);

// The same normalisation on text already in memory.
std::string normalize_text(std::string text);

// The lines of a list file (module ids, one per line): surrounding blanks
// trimmed, empty lines and lines starting with '#' skipped.
std::vector<std::string> read_list_file(const std::string& path);

}  // namespace lorahub::io
