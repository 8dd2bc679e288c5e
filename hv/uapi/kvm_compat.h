/* KVM UAPI definitions newer than Debian 12's 6.1 headers, used only when the system's
 * <linux/kvm.h> lacks them. Values from include/uapi/linux/kvm.h upstream. */
#pragma once
#include <linux/kvm.h>

#ifndef KVM_CAP_VM_TYPES
#define KVM_CAP_VM_TYPES 235 /* Linux 6.8: bitmask of supported KVM_X86_*_VM types */
#endif
#ifndef KVM_X86_DEFAULT_VM
#define KVM_X86_DEFAULT_VM 0
#endif
#ifndef KVM_X86_SW_PROTECTED_VM
#define KVM_X86_SW_PROTECTED_VM 1
#endif
#ifndef KVM_X86_SEV_VM
#define KVM_X86_SEV_VM 2
#endif
#ifndef KVM_X86_SEV_ES_VM
#define KVM_X86_SEV_ES_VM 3
#endif
#ifndef KVM_X86_SNP_VM
#define KVM_X86_SNP_VM 4 /* Linux 6.11 */
#endif
#ifndef KVM_X86_TDX_VM
#define KVM_X86_TDX_VM 5 /* Linux 6.16 */
#endif
