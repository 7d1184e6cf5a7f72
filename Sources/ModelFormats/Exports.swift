public import Tensor

/// Tensor formats are defined with their kernels in `Tensor`; the file readers name them under the same name.
public typealias GGMLType = Tensor.GGMLType
