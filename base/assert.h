/* SPDX-License-Identifier: MIT */
/*
 * WGC_ASSERT: a debug check of a contract that only our own code or the embedding program can
 * break (a job used without a CRYPTO verdict, an entry unlinked from a list it is not in, two
 * serial calls at once). Built with WGC_DEBUG (the sanitizer and fuzz builds) a failed check
 * executes __builtin_trap(), which needs neither libc nor stdio (SIGILL on x86, SIGTRAP on arm64);
 * without it the check compiles to nothing and cond is not evaluated, only type-checked.
 *
 * Never assert on anything that arrives from the network or from UAPI (STYLE.md 6): those are drop
 * reasons and error replies. Header-only and freestanding.
 */
#ifndef WGC_BASE_ASSERT_H
#define WGC_BASE_ASSERT_H

#ifdef WGC_DEBUG
#define WGC_ASSERT(cond) ((cond) ? (void)0 : __builtin_trap())
#else
#define WGC_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
