# SPDX-License-Identifier: Apache-2.0
"""The state module(s) Salt's loader finds through the package entry point."""
