/* SPDX-License-Identifier: MIT */
/*
 * The board glue of the example firmware for the MPS2 AN386 (Cortex-M4) that qemu-system-arm
 * emulates: a monotonic clock from SysTick, stack painting for the high-water mark, and the
 * section sizes the linker provides. Output and exit status go through picolibc's semihosting
 * (printf, exit).
 */
#ifndef WGC_EXAMPLES_EMBEDDED_BOARD_H
#define WGC_EXAMPLES_EMBEDDED_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Starts SysTick (core clock, 25 MHz on this board). */
void board_clock_init(void);
/*
 * Monotonic nanoseconds: SysTick time plus whatever board_sleep added. Must be called at least
 * once per SysTick wrap (0.67 s); the firmware calls it on every core call. Under qemu with
 * -icount shift=0 one instruction takes one virtual nanosecond, so differences of this clock
 * (without sleeps) count instructions, to within one 40-instruction tick.
 */
uint64_t board_now_ns(void);
/* Lets time pass without running code (a low-power sleep, in effect). */
void board_sleep_ns(uint64_t ns);

/* Fills the unused part of the stack with a pattern; board_stack_used_bytes then reports the
 * deepest the stack has reached since. */
void board_stack_paint(void);
size_t board_stack_used_bytes(void);
size_t board_stack_size_bytes(void);

#endif
