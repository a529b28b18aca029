//===- ShardingInterfaceImpl.h - Sharding rules of lmc ops ------*- C++ -*-===//
//
// Attaches ShardingRuleOpInterface (LMCInterfaces.td) to the lmc ops that
// lmc-shard partitions.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_TRANSFORMS_SHARDINGINTERFACEIMPL_H
#define LMC_DIALECT_LMC_TRANSFORMS_SHARDINGINTERFACEIMPL_H

namespace mlir {
class DialectRegistry;

namespace lmc {
void registerShardingInterfaceExternalModels(DialectRegistry &registry);
} // namespace lmc
} // namespace mlir

#endif // LMC_DIALECT_LMC_TRANSFORMS_SHARDINGINTERFACEIMPL_H
