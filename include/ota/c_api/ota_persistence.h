/* C-level persistence HAL: lets C code plug its own storage (flash, partition, file) into the
 * client. Compiles as C99 and C++.
 *
 * Image sizes and offsets are uint64_t on every target, 32-bit ones included (images above
 * 4 GiB reach the hooks unchanged); `len` and `cap` are size_t because they are the length of one
 * buffer in memory. */
#ifndef OTA_OTA_PERSISTENCE_H
#define OTA_OTA_PERSISTENCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return contract for every int-returning hook: exactly 0 = success (do not return byte counts:
 * any other value, positive or negative, is a failure); on failure the client
 * reports step -4 "burn failed" and stops). OTA_PERSIST_ERR_FULL tells the client the image does
 * not fit. Hooks left NULL are optional only where noted. */
#define OTA_PERSIST_OK 0
#define OTA_PERSIST_ERR_IO (-1)
#define OTA_PERSIST_ERR_FULL (-2)

typedef struct ota_persistence_hal {
    void* ctx; /* passed back to every hook */
    /* Start a new image of `expected_size` bytes, dropping any partial one. Required. */
    int (*begin)(void* ctx, uint64_t expected_size);
    /* Write `len` bytes at `offset`. Required. */
    int (*write)(void* ctx, uint64_t offset, const uint8_t* buf, size_t len);
    /* Read `len` bytes at `offset` into `buf` (all or failure). Optional: NULL disables
     * crash-resume re-hashing. */
    int (*read)(void* ctx, uint64_t offset, uint8_t* buf, size_t len);
    /* Make written bytes durable. Optional (NULL = nothing to do). */
    int (*flush)(void* ctx);
    /* Publish the verified image. Required. */
    int (*commit)(void* ctx);
    /* Drop the partial image. Optional. */
    void (*abort)(void* ctx);
    /* Largest image in bytes; 0 = unlimited. */
    uint64_t capacity;

    /* Crash resume (optional; added later, so zero-initialise the struct, e.g. with memset or
     * `= {0}`: NULL hooks mean "not supported" and the client always starts over with begin).
     * All four, plus `read`, are needed for resuming; with any of them NULL the adapter reports
     * "not supported" for all. */
    /* Reopen the partial image an earlier begin left behind (for an image of `expected_size`
     * bytes) without discarding it, and store its length in *stored. Fail (non-zero) when there
     * is none or it cannot be used; the client then calls begin. */
    int (*resume)(void* ctx, uint64_t expected_size, uint64_t* stored);
    /* Durably store `len` bytes (at most 16 KiB) as the resume record, replacing the previous
     * one atomically: after a power cut, load_record yields the old or the new one, whole. */
    int (*save_record)(void* ctx, const uint8_t* buf, size_t len);
    /* Copy the resume record into `buf` (room for `cap` bytes) and its length into *len;
     * *len = 0 when there is none. A record larger than `cap` is a failure. */
    int (*load_record)(void* ctx, uint8_t* buf, size_t cap, size_t* len);
    /* Remove the resume record, if any. */
    void (*clear_record)(void* ctx);
} ota_persistence_hal_t;

#ifdef __cplusplus
}
#endif

#endif /* OTA_OTA_PERSISTENCE_H */
