// molt keygen / sign / verify: minisign's key and signature files, made and checked by molt.
#include "sign_commands.hpp"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <molt/build_id.hpp>
#include <molt/signature.hpp>
#include <sstream>

#include "password.hpp"
#include "protocol/rollout_field.hpp"
#include "util/atomic_file.hpp"

namespace molt::cli {
namespace {

constexpr const char* kUntrustedComment = "signature from molt secret key";
// Key files are a few hundred bytes; anything much larger is not one.
constexpr std::uintmax_t kMaxKeyFileSize = 1 << 20;

// Prints `molt <command>: <thing>: <cause>` and leaves the command with exit status 1.
[[noreturn]] void fail(std::string_view command, std::string_view thing, std::string_view cause) {
  std::cerr << "molt " << command << ": " << thing << ": " << cause << "\n";
  throw CLI::RuntimeError(1);
}

// Runs a subcommand, turning an unexpected library exception into the usual one-line failure.
template <typename Body>
void guarded(std::string_view command, Body&& body) {
  try {
    body();
  } catch (const CLI::Error&) {
    throw;
  } catch (const std::exception& e) {
    std::cerr << "molt " << command << ": " << e.what() << "\n";
    throw CLI::RuntimeError(1);
  }
}

std::string read_text(std::string_view command, const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) fail(command, path, "cannot read: " + ec.message());
  if (size > kMaxKeyFileSize) fail(command, path, "too large for a key or signature file");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) fail(command, path, std::string("cannot read: ") + std::strerror(errno));
  return text.str();
}

// Replaces `path` whole, so a reader never sees half a key or signature.
void write_text(std::string_view command, const std::string& path, const std::string& text,
                mode_t mode) {
  if (std::string error = internal::write_file_atomically(internal::real_sys(), path, text, mode);
      !error.empty()) {
    fail(command, path, "cannot save: " + error);
  }
}

struct KeygenOptions {
  std::string public_key;
  std::string secret_key;
  bool unencrypted = false;
  bool force = false;
};

void keygen(const KeygenOptions& opt) {
  if (!opt.force) {
    for (const auto& path : {opt.public_key, opt.secret_key}) {
      if (std::filesystem::exists(path)) fail("keygen", path, "already exists (-f overwrites it)");
    }
  }
  std::string password;
  if (!opt.unencrypted) {
    std::string error;
    auto typed = read_password(true, error);
    if (!typed) fail("keygen", opt.secret_key, error);
    password = std::move(*typed);
  }
  auto pair = sig::generate_key_pair();
  std::string secret_text;
  try {
    secret_text = sig::format_secret_key(pair.secret_key, password);
  } catch (const std::exception& e) {
    wipe(password);
    fail("keygen", opt.secret_key, e.what());
  }
  wipe(password);
  write_text("keygen", opt.secret_key, secret_text, 0600);
  wipe(secret_text);
  write_text("keygen", opt.public_key, sig::format_public_key(pair.public_key), 0644);
  std::cout << "The secret key was saved as " << opt.secret_key << " - keep it secret.\n"
            << "The public key was saved as " << opt.public_key << " - that one can be public.\n"
            << "Key id: " << sig::key_id_to_string(pair.public_key.key_id) << "\n";
}

struct SignOptions {
  std::string secret_key;
  std::string file;
  std::optional<std::string> trusted_comment;
  std::string untrusted_comment = kUntrustedComment;
  std::string signature_file;
  std::optional<std::string> rollout;  // "12.5": the share of hosts that take the build
};

// minisign's default plus the BuildID, which lets the master skip a build it already runs.
std::string default_trusted_comment(const std::string& file) {
  std::string comment = "timestamp:" + std::to_string(std::time(nullptr)) +
                        "\tfile:" + std::filesystem::path(file).filename().string() + "\thashed";
  std::string error;
  if (auto build_id = read_build_id(file, error)) comment += "\tbuild_id:" + *build_id;
  return comment;
}

void sign(const SignOptions& opt) {
  std::string key_text = read_text("sign", opt.secret_key);
  std::string password;
  if (sig::is_encrypted_secret_key(key_text)) {
    std::string error;
    auto typed = read_password(false, error);
    if (!typed) fail("sign", opt.secret_key, error);
    password = std::move(*typed);
  }
  std::string error;
  auto key = sig::parse_secret_key(key_text, password, error);
  wipe(password);
  wipe(key_text);
  if (!key) fail("sign", opt.secret_key, error);
  std::string comment =
      opt.trusted_comment ? *opt.trusted_comment : default_trusted_comment(opt.file);
  if (opt.rollout) {
    std::optional<int> share = internal::rollout_of("rollout:" + *opt.rollout, error);
    if (!share) fail("sign", "--rollout", error);
    comment += "\trollout:" + internal::hundredths_text(*share);
  }
  std::string text = sig::sign_file(*key, opt.file, comment, opt.untrusted_comment, error);
  ::explicit_bzero(key->key.data(), key->key.size());
  if (text.empty()) fail("sign", opt.file, error);
  write_text("sign", opt.signature_file.empty() ? opt.file + ".minisig" : opt.signature_file, text,
             0644);
}

struct VerifyOptions {
  std::string public_key;
  std::string file;
  std::string signature_file;
  bool quiet = false;
};

void verify(const VerifyOptions& opt) {
  std::string error;
  auto key = sig::parse_public_key(read_text("verify", opt.public_key), error);
  if (!key) fail("verify", opt.public_key, error);
  std::string sig_path = opt.signature_file.empty() ? opt.file + ".minisig" : opt.signature_file;
  auto sig = sig::parse_signature(read_text("verify", sig_path), error);
  if (!sig) fail("verify", sig_path, error);
  if (sig->key_id != key->key_id) {
    fail("verify", sig_path,
         "key id mismatch: signed by key " + sig::key_id_to_string(sig->key_id) + ", public key " +
             opt.public_key + " is " + sig::key_id_to_string(key->key_id));
  }
  error = sig::verify_file(*key, *sig, opt.file);
  // A bad comment signature is the signature file's fault; anything else is the file's.
  if (!error.empty()) fail("verify", error.starts_with("comment") ? sig_path : opt.file, error);
  if (!opt.quiet) {
    std::cout << "Signature and comment signature verified\n"
              << "Trusted comment: " << sig->trusted_comment << "\n";
  }
}

}  // namespace

void add_sign_commands(CLI::App& app) {
  auto keygen_opt = std::make_shared<KeygenOptions>();
  auto* keygen_cmd = app.add_subcommand("keygen", "Make an Ed25519 key pair in minisign's format");
  keygen_cmd->add_option("-p,--public-key", keygen_opt->public_key, "public key file to write")
      ->required();
  keygen_cmd->add_option("-s,--secret-key", keygen_opt->secret_key, "secret key file to write")
      ->required();
  keygen_cmd->add_flag("-W,--no-password", keygen_opt->unencrypted,
                       "do not encrypt the secret key (otherwise: password from MOLT_PASSWORD "
                       "or the terminal)");
  keygen_cmd->add_flag("-f,--force", keygen_opt->force, "overwrite existing key files");
  keygen_cmd->callback([keygen_opt] { guarded("keygen", [&] { keygen(*keygen_opt); }); });

  auto sign_opt = std::make_shared<SignOptions>();
  auto* sign_cmd = app.add_subcommand("sign", "Sign a file (writes FILE.minisig, prehashed ED)");
  sign_cmd
      ->add_option("-s,--secret-key", sign_opt->secret_key,
                   "secret key file (molt keygen or minisign -G; a password comes from "
                   "MOLT_PASSWORD or the terminal)")
      ->required();
  sign_cmd->add_option("-m,--file", sign_opt->file, "file to sign")->required();
  sign_cmd->add_option("-t,--trusted-comment", sign_opt->trusted_comment,
                       "trusted comment, used verbatim (default: timestamp, file name, "
                       "hashed and the file's BuildID)");
  sign_cmd->add_option("-c,--untrusted-comment", sign_opt->untrusted_comment, "untrusted comment")
      ->capture_default_str();
  sign_cmd->add_option("-x,--signature", sign_opt->signature_file,
                       "signature file to write (default: FILE.minisig)");
  sign_cmd->add_option("--rollout", sign_opt->rollout,
                       "a staged rollout: the share of hosts (0-100, two decimals) that take the "
                       "build; signing again with a higher share widens it, 0 halts it");
  sign_cmd->callback([sign_opt] { guarded("sign", [&] { sign(*sign_opt); }); });

  auto verify_opt = std::make_shared<VerifyOptions>();
  auto* verify_cmd = app.add_subcommand("verify", "Check a file's minisign signature (ED or Ed)");
  verify_cmd->add_option("-p,--public-key", verify_opt->public_key, "public key file")->required();
  verify_cmd->add_option("-m,--file", verify_opt->file, "file to check")->required();
  verify_cmd->add_option("-x,--signature", verify_opt->signature_file,
                         "signature file (default: FILE.minisig)");
  verify_cmd->add_flag("-q,--quiet", verify_opt->quiet, "print nothing when the signature is good");
  verify_cmd->callback([verify_opt] { guarded("verify", [&] { verify(*verify_opt); }); });
}

}  // namespace molt::cli
