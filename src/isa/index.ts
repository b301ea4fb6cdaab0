/**
 * The instruction set in one import: encoding, registers, builder, linker, interpreter and
 * disassembler, plus the kernel-call table, for the ISA tests (test/isa/); the package's own code
 * imports each module directly.
 */

export * from './kcalls.js';
export * from './opcodes.js';
export * from './registers.js';
export * from './builder.js';
export * from './link.js';
export * from './interpreter.js';
export * from './disasm.js';
