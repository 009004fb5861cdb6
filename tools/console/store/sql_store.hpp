// Makes the SQL Store over an open Db (the store's internal factory; open_store() calls it).
//
// Why separate from open_store: tests build a store over a Db they also use directly (to plant a
// newer schema version, or to clean a PostgreSQL schema), and open_store only decides which Db.
#pragma once

#include <memory>

#include "store/db.hpp"
#include "store/store.hpp"

namespace console::sql {

/// Migrates `db` and returns the Store over it. `guard` is kept alive as long as the store (the
/// data directory's lock). Throws std::runtime_error when the migration fails or is refused.
std::unique_ptr<Store> make_sql_store(std::unique_ptr<Db> db,
                                      std::shared_ptr<const void> guard = nullptr);

}  // namespace console::sql
