variable "vpc_id" {
  type = string
}

variable "office_cidrs" {
  type = list(string)
}

# Web tier: public HTTPS, SSH for operators.
resource "aws_security_group" "web" {
  name        = "example-security-group-2"
  description = "This is an example security group."
  vpc_id      = var.vpc_id

  ingress {
    description = "HTTPS from anywhere"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  # Opened during the incident on 2024-03-02, never closed.
  ingress {
    description = "SSH"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "db" {
  name   = "shop-db"
  vpc_id = var.vpc_id
}

resource "aws_security_group_rule" "db_from_office" {
  type              = "ingress"
  security_group_id = aws_security_group.db.id
  from_port         = 5432
  to_port           = 5432
  protocol          = "tcp"
  cidr_blocks       = concat(var.office_cidrs, ["0.0.0.0/0"])
}
