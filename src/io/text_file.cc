#include "io/text_file.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lorahub::io {

std::string normalize_text(std::string text) {
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;  // CRLF -> LF
    out.push_back(text[i]);
  }
  return out;
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open file for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": read error");
  return ss.str();
}

std::string read_text_file(const std::string& path) {
  std::string bytes = read_file_bytes(path);
  // One BOM marks the encoding; a second one would be read as content (the
  // first key of a YAML file, a character before a JSON document).
  if (bytes.rfind("\xEF\xBB\xBF\xEF\xBB\xBF", 0) == 0) {
    throw std::invalid_argument(path + ": starts with two UTF-8 byte-order marks (a text file may start with one)");
  }
  return normalize_text(std::move(bytes));
}

std::vector<std::string> read_list_file(const std::string& path) {
  std::istringstream in(read_text_file(path));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    out.push_back(line.substr(b, line.find_last_not_of(" \t\r") - b + 1));
  }
  return out;
}

}  // namespace lorahub::io
