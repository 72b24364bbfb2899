/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libtermite-user: context switch for x86-64, System V ABI.
 *
 * A suspended context is a stack pointer.  Everything else the ABI says a
 * callee must preserve is pushed on the context's own stack, so that it is
 * saved and copied together with the stack (fiber.c, struct tm_frame):
 *
 *   rsp +  0  x87 control word (2 bytes), 2 bytes unused, MXCSR (4 bytes)
 *   rsp +  8  r15
 *   rsp + 16  r14
 *   rsp + 24  r13
 *   rsp + 32  r12
 *   rsp + 40  rbx
 *   rsp + 48  rbp
 *   rsp + 56  return address: where the context resumes
 *   rsp + 64  the context's stack at that point (16-byte aligned)
 *
 * No system call, no signal mask: a switch is about 20 instructions.
 */

	.text

/*
 * void tm_ctx_switch(void **save_rsp, void *to_rsp)
 *
 * Push the current context, store its stack pointer in *save_rsp, then
 * pop and return into the context saved at to_rsp.
 */
	.globl	tm_ctx_switch
	.hidden	tm_ctx_switch
	.type	tm_ctx_switch, @function
	.p2align 4
tm_ctx_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	fnstcw	(%rsp)
	stmxcsr	4(%rsp)

	movq	%rsp, (%rdi)
	movq	%rsi, %rsp

	fldcw	(%rsp)
	ldmxcsr	4(%rsp)
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	ret
	.cfi_endproc
	.size	tm_ctx_switch, . - tm_ctx_switch

/*
 * tm_ctx_entry: where a fresh context first "returns" to, with r12 = fn
 * and r13 = arg in its frame and rsp 16-byte aligned.  Calls
 * tm__fiber_start(fn, arg), which never returns.  The return address is
 * marked undefined so that debuggers and unwinders stop here.
 */
	.globl	tm_ctx_entry
	.hidden	tm_ctx_entry
	.type	tm_ctx_entry, @function
	.p2align 4
tm_ctx_entry:
	.cfi_startproc
	.cfi_undefined %rip
	movq	%r12, %rdi
	movq	%r13, %rsi
	call	tm__fiber_start
	ud2
	.cfi_endproc
	.size	tm_ctx_entry, . - tm_ctx_entry

	.section .note.GNU-stack, "", @progbits
