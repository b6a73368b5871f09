#include "io/safetensors.h"

#include "support/fixtures.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>

namespace lorahub::io {
namespace {

using testing::read_file;
using testing::temp_dir;
using testing::write_file;

// A safetensors file assembled by hand from a header text and a data buffer.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string expect_error(const std::string& path) {
  try {
    read_safetensors(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << path;
  return "";
}

TEST(Safetensors, RoundTripKeepsValuesDtypesAndMetadata) {
  const std::string path = temp_dir("st") + "/t.safetensors";
  TensorMap in;
  in["a.weight"] = at::randn({3, 5});
  in["b"] = at::randn({7}).to(at::kBFloat16);
  in["c"] = at::randn({2, 2}).to(at::kHalf);
  in["ids"] = at::arange(6, at::kLong);
  write_safetensors(path, in, {{"format", "pt"}});
  const auto out = read_safetensors(path);
  ASSERT_EQ(out.tensors.size(), 4u);
  EXPECT_EQ(out.metadata.at("format"), "pt");
  for (const auto& [name, t] : in) {
    ASSERT_TRUE(out.tensors.count(name)) << name;
    EXPECT_EQ(out.tensors.at(name).scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(at::equal(out.tensors.at(name), t)) << name;
  }
  // Header is 8-byte aligned as the format recommends.
  const std::string bytes = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
}

TEST(Safetensors, ReadsTheHandWrittenLayoutOfTheSpec) {
  // Two F32 scalars-vectors laid out as the format documents.
  const float values[3] = {1.5f, -2.0f, 4.25f};
  const std::string data(reinterpret_cast<const char*>(values), sizeof(values));
  const std::string path = temp_dir("st") + "/spec.safetensors";
  write_file(path, raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("y":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}})",
                            data));
  const auto f = read_safetensors(path);
  EXPECT_FLOAT_EQ(f.tensors.at("x")[1].item<float>(), -2.0f);
  EXPECT_FLOAT_EQ(f.tensors.at("y")[0][0].item<float>(), 4.25f);
}

TEST(Safetensors, MalformedFilesFailNamingFileAndTensor) {
  const std::string dir = temp_dir("bad");
  const std::string ok_entry = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  struct Case {
    std::string name, bytes, expected;
  };
  const std::vector<Case> cases = {
      {"short", "abc", "shorter than the 8-byte header length"},
      {"header_past_eof", raw_file(ok_entry, "12345678").substr(0, 20), "runs past the end of the file"},
      {"not_json", raw_file("{not json", ""), "header is not JSON"},
      {"offsets_past_eof", raw_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678"),
       "tensor 'w': data_offsets end at 16, past the end of the data (8 bytes)"},
      {"unknown_dtype", raw_file(R"({"w":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,8]}})", "12345678"),
       "tensor 'w': unknown dtype 'F8_E9'"},
      {"size_mismatch", raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678"),
       "tensor 'w': shape and dtype need 12 bytes but data_offsets span 8"},
      {"overlap",
       raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                "12345678"),
       "tensors 'a' and 'b' overlap"},
      {"missing_fields", raw_file(R"({"w":{"dtype":"F32"}})", ""), "tensor 'w': expected an object with dtype"},
      // Found by fuzz_safetensors: a number past double range escaped as
      // nlohmann's out_of_range, with no file name.
      {"number_overflow", raw_file(R"({"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,8]}})", "12345678"),
       "header is not JSON"},
      // A shape whose element count wraps around 2^64 to the span's size.
      {"shape_overflow",
       raw_file(R"({"w":{"dtype":"U8","shape":[4294967296,4294967296,8],"data_offsets":[0,8]}})", "12345678"),
       "tensor 'w': shape [4294967296,4294967296,8] needs more than the 8 bytes of data"},
      {"shape_entry_too_large",
       raw_file(R"({"w":{"dtype":"U8","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", "12345678"),
       "tensor 'w': shape entry 18446744073709551615 is too large"},
  };
  for (const auto& c : cases) {
    const std::string path = dir + "/" + c.name + ".safetensors";
    write_file(path, c.bytes);
    const std::string msg = expect_error(path);
    EXPECT_NE(msg.find(path), std::string::npos) << c.name << ": " << msg;
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.name << ": " << msg;
  }
}

// What the format's own reader refuses (safetensors Metadata::validate and
// read_metadata): a key named twice, a gap, bytes after the last tensor.
TEST(Safetensors, LayoutIsAsStrictAsTheFormatsReader) {
  const std::string dir = temp_dir("strict");
  struct Case {
    std::string name, bytes, expected;
  };
  const std::vector<Case> cases = {
      {"duplicate",
       raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                "12345678"),
       "invalid safetensors file: tensor 'w' is named twice in the header (the format forbids duplicate keys)"},
      // Issue 16 (break16c F6): a field twice inside one entry (safetensors: InvalidHeaderDeserialization).
      {"duplicate_field", raw_file(R"({"w":{"dtype":"F16","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "1234"),
       "invalid safetensors file: tensor 'w': field 'dtype' is given twice in its entry (the format's reader refuses "
       "duplicate fields)"},
      {"duplicate_offsets",
       raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"data_offsets":[0,4],"dtype":"F32",)"
                R"("shape":[1],"data_offsets":[4,8]}})", "12345678"),
       "invalid safetensors file: tensor 'w': field 'data_offsets' is given twice in its entry (the format's reader "
       "refuses duplicate fields)"},
      // A name with a NUL is written escaped: the message is not cut there.
      {"nul_name", raw_file(R"({"a\u0000b":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "1234"),
       "invalid safetensors file: tensor 'a\\u0000b': shape and dtype need 8 bytes but data_offsets span 4"},
      {"gap",
       raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                "123456789abc"),
       "invalid safetensors file: tensor 'b' starts at byte 8 of the data but 'a' ends at 4 (the format allows no gap "
       "between tensors)"},
      {"not_from_zero", raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "12345678"),
       "invalid safetensors file: tensor 'a' starts at byte 4 of the data but the data starts at 0 (the format allows "
       "no gap between tensors)"},
      {"trailing", raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "12345678"),
       "invalid safetensors file: 4 bytes after the last tensor (the tensors end at byte 4 of 8 bytes of data; the "
       "format allows none)"},
      // Issue 16 (break16d F7): what nlohmann accepts and serde_json does not (safetensors 0.4.1:
      // InvalidHeaderDeserialization): a byte-order mark, nesting past serde_json's recursion limit.
      {"bom", raw_file("\xEF\xBB\xBF" R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "1234"),
       "invalid safetensors file: header starts with a UTF-8 byte-order mark (the format's reader refuses it)"},
      {"deep", raw_file(R"({"a":{"x":)" + std::string(126, '[') + std::string(126, ']') +
                            R"(,"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "1234"),
       "invalid safetensors file: header nests arrays and objects 128 levels deep (the format's reader, serde_json, "
       "allows at most 127)"},
      {"no_tensors_trailing", raw_file(R"({"__metadata__":{"format":"pt"}})", "x"),
       "invalid safetensors file: 1 bytes after the last tensor (the tensors end at byte 0 of 1 bytes of data; the "
       "format allows none)"},
  };
  for (const auto& c : cases) {
    const std::string path = dir + "/" + c.name + ".safetensors";
    write_file(path, c.bytes);
    EXPECT_EQ(expect_error(path), path + ": " + c.expected) << c.name;
  }
  // The case of ../shared/cases: an adapter naming one of its tensors twice.
  const std::string dup = testing::shared_dir() + "/cases/dup_key/adapter_model.safetensors";
  EXPECT_EQ(expect_error(dup), dup + ": invalid safetensors file: tensor "
                                "'base_model.model.encoder.block.0.layer.0.SelfAttention.q.lora_A.weight' is named "
                                "twice in the header (the format forbids duplicate keys)");
  // Accepted: tensors in any header order, zero-size tensors anywhere.
  const std::string ok = dir + "/ok.safetensors";
  write_file(ok, raw_file(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"e":{"dtype":"F32","shape":[0],)"
                          R"("data_offsets":[8,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                          std::string(8, '\0')));
  EXPECT_EQ(read_safetensors(ok).tensors.size(), 3u);
  // 127 levels (an unknown field inside an entry, ignored by both readers) pass, as in safetensors 0.4.1.
  write_file(ok, raw_file(R"({"a":{"x":)" + std::string(125, '[') + std::string(125, ']') +
                              R"(,"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "1234"));
  EXPECT_EQ(read_safetensors(ok).tensors.size(), 1u);
  // __metadata__ is a plain map in the format's reader: a key given twice keeps the last value.
  write_file(ok, raw_file(R"({"__metadata__":{"format":"tf","format":"pt"},"a":{"dtype":"F32","shape":[1],)"
                          R"("data_offsets":[0,4]}})", std::string(4, '\0')));
  EXPECT_EQ(read_safetensors(ok).metadata.at("format"), "pt");
}

TEST(Safetensors, ParsesBytesInMemoryAsTheFileReaderDoes) {
  const std::string bytes = raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  const auto file = parse_safetensors(bytes.data(), bytes.size(), "memory");
  ASSERT_EQ(file.tensors.count("w"), 1u);
  EXPECT_EQ(file.tensors.at("w").sizes(), at::IntArrayRef({2}));
  EXPECT_TRUE(at::equal(file.tensors.at("w"), at::zeros({2})));
  try {
    parse_safetensors(bytes.data(), 7, "memory");
    ADD_FAILURE() << "7 bytes accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("memory: invalid safetensors file: shorter"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, WriteReplacesAtomically) {
  const std::string path = temp_dir("st") + "/keep.safetensors";
  write_safetensors(path, {{"a", at::ones({2})}});
  TensorMap bad{{"z", at::ones({1}).to(at::kComplexFloat)}};
  EXPECT_THROW(write_safetensors(path, bad), std::invalid_argument);
  EXPECT_TRUE(at::equal(read_safetensors(path).tensors.at("a"), at::ones({2})));
}

}  // namespace
}  // namespace lorahub::io
