// The servers' CA bundle on the node: InstallCaBundle's rules, and the real plugin keeping the host's
// copy current while the kubelet swaps the Secret volume under it, as it does for a renewed CA.
#include "deviceplugin/ca_install.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "common/read_file.h"
#include "tests/deviceplugin/plugin_harness.h"
#include "tests/deviceplugin/test_cert.h"

namespace gpupool::testing {
namespace {

using deviceplugin::InstallCaBundle;

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

std::string Read(const std::string& path) {
  return ReadTextFile(path).value_or("<unreadable>");
}

// Two distinct CA certificates in PEM.
std::pair<std::string, std::string> TwoCas(const TempDir& tmp) {
  REQUIRE(WriteSelfSignedCert(tmp.File("ca1")).ok());
  REQUIRE(WriteSelfSignedCert(tmp.File("ca2")).ok());
  std::string a = Read(tmp.File("ca1.crt")), b = Read(tmp.File("ca2.crt"));
  REQUIRE(a != b);
  return {a, b};
}

// A folder laid out as the kubelet lays out a Secret volume: each version in a folder of its own,
// "..data" linking to the current one, and the file a link through "..data". Update swaps versions
// the kubelet's way, by renaming a new "..data" link over the old.
class SecretVolume {
 public:
  SecretVolume(std::string dir, std::string file) : dir_(std::move(dir)), file_(std::move(file)) {
    ::mkdir(dir_.c_str(), 0755);
  }
  std::string path() const { return dir_ + "/" + file_; }
  void Update(const std::string& text) {
    const std::string version = "..v" + std::to_string(++version_);
    REQUIRE(::mkdir((dir_ + "/" + version).c_str(), 0755) == 0);
    Write(dir_ + "/" + version + "/" + file_, text);
    REQUIRE(::symlink(version.c_str(), (dir_ + "/..data_tmp").c_str()) == 0);
    REQUIRE(std::rename((dir_ + "/..data_tmp").c_str(), (dir_ + "/..data").c_str()) == 0);
    if (version_ == 1) REQUIRE(::symlink(("..data/" + file_).c_str(), path().c_str()) == 0);
  }

 private:
  std::string dir_, file_;
  int version_ = 0;
};

TEST_CASE("InstallCaBundle copies a changed bundle, leaves an equal one, refuses one without a certificate") {
  TempDir tmp;
  auto [ca1, ca2] = TwoCas(tmp);
  const std::string source = tmp.File("source.crt"), target = tmp.File("installed.crt");

  Write(source, ca1);
  auto first = InstallCaBundle(source, target);
  REQUIRE(first.ok());
  CHECK(first->replaced);
  CHECK(first->certificates == 1);
  CHECK(Read(target) == ca1);
  struct stat st {};
  REQUIRE(::stat(target.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);  // containers read it, whatever the plugin's umask

  auto again = InstallCaBundle(source, target);
  REQUIRE(again.ok());
  CHECK_FALSE(again->replaced);

  Write(source, ca2 + ca1);  // a new CA published beside the old
  auto both = InstallCaBundle(source, target);
  REQUIRE(both.ok());
  CHECK(both->replaced);
  CHECK(both->certificates == 2);
  CHECK(Read(target) == ca2 + ca1);

  for (const std::string& bad :
       {std::string(), std::string("not a certificate\n"),
        std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
    Write(source, bad);
    auto refused = InstallCaBundle(source, target);
    CHECK(refused.status().code() == Code::kInvalidArgument);
    CHECK_THAT(refused.status().message(), Catch::Contains("holds no PEM certificate"));
    CHECK(Read(target) == ca2 + ca1);
  }
  CHECK(InstallCaBundle(tmp.File("missing.crt"), target).status().code() == Code::kNotFound);
  Write(source, ca1);
  CHECK_FALSE(InstallCaBundle(source, tmp.File("no/such/folder.crt")).ok());
  CHECK(::access(tmp.File(".installed.crt.new").c_str(), F_OK) != 0);  // no temporary left behind
}

TEST_CASE("the plugin installs the servers' CA at start and again whenever the kubelet updates the Secret") {
  PluginHarness h;
  auto [ca1, ca2] = TwoCas(h.tmp);
  SecretVolume secret(h.tmp.File("server-ca"), "gpupool-ca.crt");
  secret.Update(ca1);
  const std::string host = h.tmp.File("host-gpupool-ca.crt");
  h.StartPlugin({"--tls-ca-file=/opt/gpupool/lib/gpupool-ca.crt", "--tls-ca-source=" + secret.path(),
                 "--tls-ca-install=" + host});
  // Before the first resource was served (StartPlugin waited for those lines).
  CHECK(Read(host) == ca1);

  secret.Update(ca2 + ca1);
  auto line = h.plugin->WaitForLine("installed the servers' CA bundle (2 certificates)", kEventTimeout);
  INFO(h.plugin->output());
  REQUIRE(line.ok());
  CHECK(Read(host) == ca2 + ca1);

  // A broken update is reported and changes nothing; the next good one is installed.
  secret.Update("garbage\n");
  REQUIRE(h.plugin->WaitForLine("holds no PEM certificate", kEventTimeout).ok());
  CHECK(Read(host) == ca2 + ca1);
  secret.Update(ca2);
  REQUIRE(h.plugin->WaitForLine("installed the servers' CA bundle (1 certificate)", kEventTimeout).ok());
  CHECK(Read(host) == ca2);
  h.StopPlugin();
}

TEST_CASE("the plugin does not start without the servers' CA it was told to install") {
  PluginHarness h;
  auto p = Subprocess::Start(h.Args({"--tls-ca-source=" + h.tmp.File("missing/gpupool-ca.crt"),
                                     "--tls-ca-install=" + h.tmp.File("ca.crt")}),
                             PluginEnv());
  REQUIRE(p.ok());
  auto rc = p->Wait(kEventTimeout);
  INFO(p->output());
  REQUIRE(rc.ok());
  CHECK(*rc == 1);
  CHECK_THAT(p->output(), Catch::Contains("missing"));
}

}  // namespace
}  // namespace gpupool::testing
