//===- BufferizableOpInterfaceImpl.h - Bufferization of lmc ops -*- C++ -*-===//
//
// Bufferization models of the lmc ops that survive convert-lmc-to-linalg:
// the collectives, which bufferize to calls into the lmc runtime.
//
//===----------------------------------------------------------------------===//

#ifndef LMC_DIALECT_LMC_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
#define LMC_DIALECT_LMC_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H

namespace mlir {
class DialectRegistry;

namespace lmc {
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);
} // namespace lmc
} // namespace mlir

#endif // LMC_DIALECT_LMC_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
