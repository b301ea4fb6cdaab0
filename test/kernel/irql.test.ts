import { describe, expect, it } from 'vitest';
import { X64, X86, irqlName, vectorToIrql } from '../../src/kernel/irql.js';

describe('IRQL tables (§1.1–1.2)', () => {
  it('x64 maps a vector to its APIC priority class', () => {
    expect(vectorToIrql(X64, 0x50)).toBe(5);
    expect(vectorToIrql(X64, 0x2f)).toBe(2);
    expect(vectorToIrql(X64, 0x1f)).toBe(1);
    expect(vectorToIrql(X64, 0xd1)).toBe(13);
    expect(vectorToIrql(X64, 0xe1)).toBe(14);
  });
  it('x86 maps vectors through the APIC HAL table', () => {
    expect(vectorToIrql(X86, 0x3d)).toBe(1);
    expect(vectorToIrql(X86, 0x41)).toBe(2);
    expect(vectorToIrql(X86, 0x50)).toBe(4);
    expect(vectorToIrql(X86, 0xb0)).toBe(10);
    expect(vectorToIrql(X86, 0xd1)).toBe(28);
    expect(vectorToIrql(X86, 0xe1)).toBe(29);
  });
  it('names levels the way !irql prints them, per architecture', () => {
    expect(irqlName('x64', 2)).toBe('DISPATCH_LEVEL');
    expect(irqlName('x64', 12)).toBe('SYNCH_LEVEL');
    expect(irqlName('x64', 5)).toBe('DIRQL 5');
    expect(irqlName('x86', 28)).toBe('CLOCK2_LEVEL');
    expect(irqlName('x86', 12)).toBe('DIRQL 12');
    expect(X64.synch).toBe(12);
    expect(X86.synch).toBe(27);
  });
});
