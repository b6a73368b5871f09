#include "io/torch_bin.h"

#include "io/safetensors.h"
#include "support/fixtures.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>

#include <set>

namespace lorahub::io {
namespace {

TEST(TorchBin, FixtureBaseBinEqualsSafetensors) {
  const auto bin = read_torch_bin(testing::tiny_dir() + "/base/pytorch_model.bin");
  const auto st = read_safetensors(testing::tiny_dir() + "/base/model.safetensors").tensors;
  EXPECT_EQ(bin.size(), st.size() + 2);  // + encoder/decoder.embed_tokens (tied)
  for (const auto& [name, t] : st) {
    ASSERT_TRUE(bin.count(name)) << name;
    EXPECT_TRUE(at::equal(bin.at(name), t)) << name;
  }
  EXPECT_TRUE(at::equal(bin.at("encoder.embed_tokens.weight"), st.at("shared.weight")));
}

TEST(TorchBin, FixtureAdapterBinEqualsSafetensors) {
  for (int i = 0; i < 5; ++i) {
    const std::string dir = testing::tiny_dir() + "/lora/lora" + std::to_string(i);
    const auto bin = read_torch_bin(dir + "/adapter_model.bin");
    const auto st = read_safetensors(dir + "/adapter_model.safetensors").tensors;
    ASSERT_EQ(bin.size(), st.size());
    for (const auto& [name, t] : st) EXPECT_TRUE(at::equal(bin.at(name), t)) << name;
  }
}

// torch.save on a GPU records each storage's location as 'cuda:0' (most
// PEFT adapter_model.bin files); it is read onto the CPU, as torch.load with
// map_location="cpu" does, with the same tensors. The file is the fixture's
// archive with its locations rewritten.
TEST(TorchBin, StoragesSavedOnAGpuAreReadOntoTheCpu) {
  const std::string dir = testing::tiny_dir() + "/lora/lora0";
  caffe2::serialize::PyTorchStreamReader in(dir + "/adapter_model.bin");
  const std::string path = testing::temp_dir("bin-gpu") + "/adapter_model.bin";
  {
    caffe2::serialize::PyTorchStreamWriter out(path);
    const std::set<std::string> written_by_the_writer = {"version", ".data/version", ".data/serialization_id"};
    for (const auto& name : in.getAllRecords()) {
      if (written_by_the_writer.count(name)) continue;
      auto record = in.getRecord(name);
      std::string bytes(static_cast<const char*>(std::get<0>(record).get()), std::get<1>(record));
      if (name == "data.pkl") {  // BINUNICODE 'cpu' -> BINUNICODE 'cuda:0'
        const std::string cpu("X\x03\0\0\0cpu", 8), cuda("X\x06\0\0\0cuda:0", 11);
        int rewritten = 0;
        for (size_t at = bytes.find(cpu); at != std::string::npos; at = bytes.find(cpu, at + cuda.size()), ++rewritten) {
          bytes.replace(at, cpu.size(), cuda);
        }
        ASSERT_GT(rewritten, 0);
      }
      out.writeRecord(name, bytes.data(), bytes.size());
    }
    out.writeEndOfFile();
  }
  const auto bin = read_torch_bin(path);
  const auto st = read_safetensors(dir + "/adapter_model.safetensors").tensors;
  ASSERT_EQ(bin.size(), st.size());
  for (const auto& [name, t] : st) {
    EXPECT_TRUE(bin.at(name).device().is_cpu()) << name;
    EXPECT_TRUE(at::equal(bin.at(name), t)) << name;
  }
}

TEST(TorchBin, UnreadableFilesFailClearly) {
  const std::string dir = testing::temp_dir("bin");
  const std::string bytes = testing::read_file(testing::tiny_dir() + "/lora/lora0/adapter_model.bin");
  struct Case {
    std::string name, bytes, expected;
  };
  const std::vector<Case> cases = {
      {"truncated.bin", bytes.substr(0, bytes.size() / 2), "truncated zip archive (no end-of-central-directory record)"},
      {"cut_end.bin", bytes.substr(0, bytes.size() - 1), "truncated zip archive"},
      {"legacy.bin", std::string("\x80\x02\x8a\x0a", 4) + "legacy", "legacy (non-zip)"},
      {"text.bin", "hello world", "not a zip archive"},
      {"empty.bin", "", "file is 0 bytes long"},
  };
  for (const auto& c : cases) {
    const std::string path = dir + "/" + c.name;
    testing::write_file(path, c.bytes);
    try {
      read_torch_bin(path);
      ADD_FAILURE() << c.name << " was accepted";
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(c.expected), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace lorahub::io
