/* C-level NOR flash HAL: lets C code hand its own flash driver to the A/B slot logic (the
 * bootloader decision, confirmation, and the SlotSink that downloads into the inactive slot).
 * Compiles as C99 and C++. Flash sizes and offsets are uint64_t on every target, 32-bit ones
 * included; `len` of read/program is size_t, the length of one buffer in memory. */
#ifndef OTA_OTA_FLASH_H
#define OTA_OTA_FLASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return contract for every int-returning hook and function: exactly 0 = success; any other
 * value is a failure. Hooks are only called with in-range, aligned requests (the adapter checks
 * them first). */
#define OTA_FLASH_OK 0
#define OTA_FLASH_ERR_IO (-1)       /* the flash (or a hook) failed */
#define OTA_FLASH_ERR_ARG (-2)      /* a NULL pointer, a bad geometry or a missing hook */
#define OTA_FLASH_ERR_STATE (-3)    /* not provisioned, or nothing to confirm */
#define OTA_FLASH_ERR_NO_IMAGE (-4) /* no slot holds an image that verifies */

typedef struct ota_flash_hal {
    void* ctx;            /* passed back to every hook */
    uint64_t size;        /* total bytes; a multiple of sector_size */
    uint32_t sector_size; /* erase unit; a multiple of write_align */
    uint32_t write_align; /* program unit (offsets and lengths are multiples of it) */
    /* Read `len` bytes at `offset`. Required. */
    int (*read)(void* ctx, uint64_t offset, uint8_t* buf, size_t len);
    /* Erase [offset, offset + len) to 0xFF; both multiples of sector_size. Required. */
    int (*erase)(void* ctx, uint64_t offset, uint64_t len);
    /* Program `len` bytes at `offset` (clearing bits only; the area was erased). Required. */
    int (*program)(void* ctx, uint64_t offset, const uint8_t* data, size_t len);
} ota_flash_hal_t;

/* What ota_ab_boot() decided. */
typedef struct ota_ab_boot_info {
    int slot;              /* 0 or 1: the slot to jump to */
    int trial;             /* 1 when it boots an unconfirmed update (confirm it or it rolls back) */
    int rolled_back;       /* 1 when an unconfirmed update was dropped on this boot */
    int fell_back;         /* 1 when the chosen image failed verification and the other was used */
    uint64_t image_offset; /* where the slot's image starts on the flash */
    uint64_t image_size;   /* the image's length in bytes */
    char version[65];      /* the image's version, NUL-terminated */
} ota_ab_boot_info_t;

/* The bootloader's decision on the default layout of `hal` (two metadata sectors at the start,
 * the rest split into two equal slots): picks, verifies (SHA-256) and records the slot to boot.
 * Returns OTA_FLASH_OK and fills `info`, or a negative OTA_FLASH_ERR_*. */
int ota_ab_boot(const ota_flash_hal_t* hal, ota_ab_boot_info_t* info);

/* Called by the application running a trial image after its self-test: makes it the confirmed
 * image. OTA_FLASH_OK also when it is already confirmed; OTA_FLASH_ERR_STATE when no trial image
 * is running. */
int ota_ab_confirm(const ota_flash_hal_t* hal);

#ifdef __cplusplus
}
#endif

#endif /* OTA_OTA_FLASH_H */
