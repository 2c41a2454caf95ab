/* SPDX-License-Identifier: MIT */
#include "board.h"

#include <stddef.h>
#include <stdint.h>

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

enum {
	SYST_ENABLE_CORE_CLOCK = 5, /* ENABLE | CLKSOURCE, no interrupt */
	SYST_MAX = 0xFFFFFF,
	NS_PER_TICK = 40, /* 25 MHz */
	STACK_PATTERN = 0xA5A5A5A5u,
	STACK_GUARD_BYTES = 256, /* left unpainted below the live frame */
};

/* From picolibc.ld: the top of the stack, and its size (an absolute symbol). */
extern uint32_t __stack[];
extern char __stack_size[];

static uint64_t ticks_high;
static uint32_t last_cvr;
static uint64_t slept_ns;

void board_clock_init(void)
{
	SYST_RVR = SYST_MAX;
	SYST_CVR = 0;
	SYST_CSR = SYST_ENABLE_CORE_CLOCK;
	while (SYST_CVR == 0) /* wait for the first reload */
		;
	last_cvr = SYST_CVR;
}

uint64_t board_now_ns(void)
{
	uint32_t cvr = SYST_CVR; /* counts down */

	if (cvr > last_cvr)
		ticks_high += (uint64_t)SYST_MAX + 1;
	last_cvr = cvr;
	return (ticks_high + (SYST_MAX - cvr)) * NS_PER_TICK + slept_ns;
}

void board_sleep_ns(uint64_t ns)
{
	slept_ns += ns;
}

static uint32_t *stack_bottom(void)
{
	return (uint32_t *)((uintptr_t)__stack - (uintptr_t)__stack_size);
}

void board_stack_paint(void)
{
	uint32_t *p = stack_bottom();
	uint32_t *live = (uint32_t *)__builtin_frame_address(0) - STACK_GUARD_BYTES / 4;

	while (p < live)
		*p++ = STACK_PATTERN;
}

size_t board_stack_used_bytes(void)
{
	const uint32_t *p = stack_bottom();

	while (p < __stack && *p == STACK_PATTERN)
		p++;
	return (size_t)((uintptr_t)__stack - (uintptr_t)p);
}

size_t board_stack_size_bytes(void)
{
	return (size_t)(uintptr_t)__stack_size;
}
