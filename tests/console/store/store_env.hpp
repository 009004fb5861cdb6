// How the store conformance suite gets its stores: one StoreEnv per test, per backend.
//
// Why an environment and not just a factory: the suite also re-opens the same database (migrations
// must not re-apply, data must survive) and plants a newer schema version through a raw Db
// connection, so a backend hands out "the same database again" and "a raw handle on it". The fake
// MemoryStore is not persistent: those tests skip it.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/db.hpp"
#include "store/store.hpp"

namespace console::test {

/// One empty database for one test.
class StoreEnv {
  public:
    virtual ~StoreEnv() = default;
    /// Opens (again) the store over this environment's database.
    virtual std::unique_ptr<Store> open() = 0;
    /// A raw connection to the same database; nullptr when the backend has none (the fake).
    virtual std::unique_ptr<sql::Db> raw() = 0;
};

/// A named way to make environments (the suite's parameter).
struct Backend {
    std::string name;
    std::function<std::unique_ptr<StoreEnv>()> make;
};

/// The conformance suite's fixture (cases in store_conformance_test.cpp): a fresh environment
/// and a store opened on it per case.
class StoreTest : public testing::TestWithParam<Backend> {
  protected:
    void SetUp() override {
        env_ = GetParam().make();
        store_ = env_->open();
    }
    /// A firmware and a rollout on it (tasks need a rollout).
    std::int64_t new_rollout();
    bool is_memory() const { return std::string(store_->kind()) == "memory"; }

    std::unique_ptr<StoreEnv> env_;
    std::unique_ptr<Store> store_;
    std::int64_t fw_ = 0;
};

/// gtest shows a Backend by its name.
inline void PrintTo(const Backend& b, std::ostream* os) {
    *os << b.name;
}

inline std::string backend_name(const testing::TestParamInfo<Backend>& info) {
    return info.param.name;
}

}  // namespace console::test
