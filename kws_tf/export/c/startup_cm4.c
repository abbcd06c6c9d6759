/*
 * startup_cm4.c: the vector table and reset handler of the Cortex-M4 image (QEMU's
 * mps2-an386 board, or any Cortex-M4F whose code starts at address 0).
 *
 * The reset handler turns the FPU on before any floating-point instruction runs (the code is
 * built with -mfloat-abi=hard, and an FPU instruction with the FPU off locks the core up),
 * then hands over to newlib's _start, which sets up the C library (semihosting for stdio),
 * runs main and exits with its status.
 */
#include <stdint.h>

extern uint32_t __stack_top; /* the linker script's end of RAM */
extern void _start(void);   /* newlib's C start-up */

void reset_handler(void);

static void halt(void)
{
    for (;;) {
    }
}

/* Initial stack pointer, then the handlers of reset, NMI, hard fault, memory management,
   bus and usage faults; the rest of the 16 system entries are unused here. */
__attribute__((section(".vectors"), used)) void (*const kws_vectors[16])(void) = {
    (void (*)(void))&__stack_top, reset_handler, halt, halt, halt, halt, halt,
};

#define CPACR (*(volatile uint32_t *)0xE000ED88u)

void reset_handler(void)
{
    CPACR |= 0xFu << 20; /* full access to coprocessors 10 and 11: the FPU */
    __asm volatile("dsb\n\tisb" ::: "memory");
    _start();
    halt();
}
