// JSON reading: syntax errors and field errors name the file, position and field.
#include <fstream>

#include <gtest/gtest.h>

#include "embed/error.hpp"
#include "io/json.hpp"
#include "support/test_support.hpp"

using embed::Error;

TEST(Json, SyntaxErrorNamesFileLineAndColumn) {
  auto dir = embed::testing::make_temp_dir("json");
  auto file = dir / "config.json";
  std::ofstream(file) << "{\n  \"hidden_size\": 32,\n  \"x\": ]\n}";
  try {
    embed::io::read_json(file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("column 8"), std::string::npos) << msg;
  }
}

TEST(Json, FieldErrorsNameFieldAndTypes) {
  nlohmann::json j = {{"hidden_size", "big"}, {"sub", {{"eps", true}}}};
  embed::io::JsonObject o(j, "config.json");
  try {
    o.get_int("hidden_size");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "config.json: field 'hidden_size': expected an integer, found string \"big\"");
  }
  try {
    o.get_object("sub").get_double("eps");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "config.json: field 'sub.eps': expected a number, found boolean true");
  }
  try {
    o.get_int("num_layers");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "config.json: field 'num_layers': missing (required)");
  }
  EXPECT_EQ(o.get_int("num_layers", 7), 7);
}
