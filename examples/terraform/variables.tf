variable "vpc_id" {
  type        = string
  description = "VPC of the shop"
  default     = "vpc-14400670"
}

variable "environment" {
  type    = string
  default = "prod"
}

variable "db_password" {
  type      = string
  sensitive = true
}
